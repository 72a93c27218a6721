"""PII redaction: each detector, the look-alikes it must leave, stable placeholders and their
restoring, the guard that redacts every task's items in the engine, and the figures on the test set."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from headway_assets.core.pii import (
    ASCII_CASE_FOLDS,
    CARD,
    EMAIL,
    IBAN,
    PERSON,
    PHONE,
    SECRET,
    Redaction,
    find_pii,
    is_card_number,
    is_iban,
    message_people,
    name_variants,
    org_redacts,
    redact_text,
)
from headway_assets.llm.engine import EngineConfig, LlmEngine
from headway_assets.llm.providers.base import LlmProvider, LlmRequest, LlmResponse
from headway_assets.llm.redaction import PiiScope, PrivacyGuard, message_scope
from headway_assets.llm.schemas import Tier1Batch
from headway_assets.llm.tasks import (
    INSIGHT,
    MATCH,
    TIER1,
    TIER2,
    InsightInput,
    MatchCandidate,
    MatchInput,
    Tier1Input,
    Tier2Input,
)

REPO = Path(__file__).resolve().parents[2]


def kinds(text: str, names: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(kind, value) of every finding in `text`."""
    return [(f.kind, text[f.start : f.end]) for f in find_pii(text, names)]


# -- detectors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["jane.doe@acme.com", "J.DOE+billing@mail.example.co.uk", "support@northwind.io", "a_b-c@sub.domain.travel"],
)
def test_email_addresses_are_found_whole(value: str) -> None:
    assert kinds(f"write to {value}, thanks") == [(EMAIL, value)]
    assert kinds(f"<{value}>") == [(EMAIL, value)]


@pytest.mark.parametrize(
    "value",
    [
        "+44 20 7946 0958",
        "+1 415-555-2671",
        "(415) 555-2671",
        "415.555.2671",
        "+49 30 901820",
        "+33 1 42 68 53 00",
        "020 7946 0958",
        "+81 3-1234-5678",
        "+55 11 91234-5678",
        "+442079460958",
    ],
)
def test_phone_numbers_in_national_and_international_forms_are_found(value: str) -> None:
    assert kinds(f"Call me on {value} tomorrow.") == [(PHONE, value)]


def test_a_bare_digit_run_is_a_phone_number_only_after_a_phone_word() -> None:
    assert kinds("call me at 4155552671") == [(PHONE, "4155552671")]
    assert kinds("order 4155552671 shipped") == []
    assert kinds("account id 4155552671") == []


@pytest.mark.parametrize(
    "value", ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011 1111 1111 1117"]
)
def test_card_numbers_with_a_valid_luhn_digit_are_found(value: str) -> None:
    assert is_card_number(value)
    assert kinds(f"please charge {value} today") == [(CARD, value)]


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "1234 5678 9012 3456",  # no card network starts so (and Luhn fails)
        "0000 0000 0000 0000",
        "4111 1111-1111 1111",  # mixed separators: not how a card is written
    ],
)
def test_card_look_alikes_are_not_cards(value: str) -> None:
    assert not is_card_number(value)
    assert all(kind != CARD for kind, _ in kinds(f"number {value} here"))


def test_an_id_written_without_card_groups_after_an_id_word_is_not_a_card() -> None:
    assert kinds("order #4111111111111111 is late") == []


@pytest.mark.parametrize(
    "value", ["GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000", "NL91ABNA0417164300"]
)
def test_ibans_with_their_country_length_and_checksum_are_found(value: str) -> None:
    assert is_iban(value)
    assert kinds(f"IBAN {value} please") == [(IBAN, value)]


def test_iban_look_alikes_are_not_ibans() -> None:
    assert not is_iban("GB83 WEST 1234 5698 7654 32")  # checksum off by one
    assert not is_iban("DE8937040044053201300")  # a German IBAN is 22 characters
    assert kinds("ref GB83WEST12345698765432") == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"),
        ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345", "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
        ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl"),
        ("gh token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("webhook whsec_4f9c2d8e1b7a6f3c", "whsec_4f9c2d8e1b7a6f3c"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
        ("Authorization: Bearer abcdef1234567890abcdef", "abcdef1234567890abcdef"),
        ("config api_key=9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("password: Welcome2024!", "Welcome2024!"),
    ],
)
def test_keys_and_tokens_are_found(text: str, secret: str) -> None:
    assert kinds(text) == [(SECRET, secret)]


@pytest.mark.parametrize(
    "text",
    [
        "The token: expired message shows every morning.",
        "Password: reset link never arrives.",
        "Bearer tokens should expire after 30 minutes.",
        "Risk-free trial, task-12345 and the sk-learn example.",
    ],
)
def test_words_about_keys_are_not_keys(text: str) -> None:
    assert kinds(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Order #48213977 shipped on 2024-03-15 at 12:30:45.",
        "We upgraded to v2.14.3 (build 20240315) on 15/03/2024.",
        "Timestamp 1700000000 is in seconds; 03.15.2024 23:59:59 in the log.",
        "Commit 3f2b1c9e7d4a4e8b9c21aa and sync job 3f2b1c9e-7d4a-4e8b-9c21-123456789abc failed.",
        "Server 192.168.100.200 and revenue $1,234,567.89 for 10.000.000 users.",
        "Invoice INV-20931, ticket 88412, account id 5567123456.",
    ],
)
def test_ids_versions_dates_and_amounts_stay(text: str) -> None:
    assert kinds(text) == []


def test_names_of_the_messages_people_are_found_whole_and_by_part() -> None:
    names = ("Jane Doe", "Liam O'Connor", "Zoë Müller")
    text = "Jane Doe asked; jane agreed, @Liam said O'Connor's team and Zoë Müller too. Doe's plan."
    found = kinds(text, names)
    assert found == [
        (PERSON, "Jane Doe"),
        (PERSON, "jane"),
        (PERSON, "Liam"),
        (PERSON, "O'Connor"),
        (PERSON, "Zoë Müller"),
        (PERSON, "Doe"),
    ]


def test_a_first_name_that_is_a_common_word_is_redacted_only_with_the_rest_of_the_name() -> None:
    names = ("Will Turner", "Grace May", "Dana Support")
    assert kinds("Will you add bulk edit? The grace period ends in May. Ask support.", names) == []
    assert kinds("Will Turner and Turner's boss, and Dana.", names) == [
        (PERSON, "Will Turner"),
        (PERSON, "Turner"),
        (PERSON, "Dana"),
    ]
    assert "Jane Doe" in name_variants(["Doe, Jane"])


def test_a_company_named_after_a_person_keeps_its_name_and_the_person_does_not() -> None:
    names = ("Aiko Mori", "Rita Rep")
    text = "Aiko Mori of Mori Design asked; Aiko agreed."
    assert [(f.kind, text[f.start : f.end]) for f in find_pii(text, names, keep=("Mori", "Design"))] == [
        (PERSON, "Aiko Mori"),
        (PERSON, "Aiko"),
    ]
    guard = PrivacyGuard(enabled_by_default=True)
    guard.register(text, message_scope(True, names, customer="Mori Design"))
    [(_, item)] = guard.protect(TIER1, [("0", Tier1Input(id="", text=text))])
    assert item.text == "<PERSON_1> of Mori Design asked; <PERSON_2> agreed."


def test_an_international_number_is_found_when_its_length_is_possible_even_if_unassigned() -> None:
    assert kinds("ring +64 9 123 4567 today") == [(PHONE, "+64 9 123 4567")]
    assert kinds("+1 for the bulk edit, and +30 days of trial") == []


def test_a_message_lists_its_author_and_participants() -> None:
    metadata = {
        "parties": [{"name": "Rita Rep"}, {"name": "Jane Doe"}],
        "turns": [{"speaker": "Unknown speaker"}, {"speaker": "Sam Success"}],
        "calendar_invitees": [{"name": "Priya Raman", "email": "priya@x.io"}],
        "recorded_by": {"name": "Noah Sales"},
    }
    people = message_people("Jane Doe", "kwame.mensah@soylent.com", metadata)
    assert people == ("Jane Doe", "Kwame Mensah", "Rita Rep", "Priya Raman", "Sam Success", "Noah Sales")


# -- the shortcuts: what the patterns would find, found without scanning every text with them ----


def test_the_case_folds_the_lowercase_shortcuts_allow_for_are_all_there_are() -> None:
    # Case-insensitive patterns are skipped, and names compared, on the lower-case text. That is
    # sound for a text without the characters of ASCII_CASE_FOLDS: every other character that a
    # case-insensitive pattern takes for an ASCII letter is that letter in lower case, no other
    # character becomes ASCII in lower case, and lower case keeps the text's length (offsets).
    every_char = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    letters = "|".join("abcdefghijklmnopqrstuvwxyz")
    taken_for_letters = set(re.findall(f"(?i:{letters})", every_char)) | set(re.findall("(?i:[a-z])", every_char))
    assert {char for char in taken_for_letters if not char.lower().isascii()} <= set(ASCII_CASE_FOLDS)
    assert all(char in ASCII_CASE_FOLDS for char in every_char if any(c.isascii() for c in char.lower()))
    assert all(len(char.lower()) == 1 or char in ASCII_CASE_FOLDS for char in every_char)


def test_case_insensitive_keys_and_names_are_found_in_any_case_and_with_folding_characters() -> None:
    assert kinds("API_KEY=9f8e7d6c5b4a39281706f5e4d3c2b1a0") == [(SECRET, "9f8e7d6c5b4a39281706f5e4d3c2b1a0")]
    assert kinds("pa\u017f\u017fword: Welcome2024!") == [(SECRET, "Welcome2024!")]  # long s: "ſ" is "s" to re
    assert kinds("AUTHORIZATION: BEARER abcdef1234567890abcdef") == [(SECRET, "abcdef1234567890abcdef")]
    assert kinds("ask KIM and K\u0131m, not Kimberly", ("Kim Lee",)) == [(PERSON, "KIM"), (PERSON, "K\u0131m")]


def _alternation_finds(text: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """What one case-insensitive alternation of the name variants finds (the plain way)."""
    alternation = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in name_variants(names))
    pattern = re.compile(rf"(?<![\w.])(?:{alternation})(?![\w@]|\.\w)", re.IGNORECASE)
    return [(PERSON, match.group()) for match in pattern.finditer(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Jane Doe, jane, JANE DOE and Jane\n  Doe; @Jane, Jane's, jane.doe@x.io, Janet, Jane. Doe.",
        "Doe Doe Jane Jane Doe Doe-Smith and Doe_Smith; Jane\u00a0Doe; Ma Li and li ma",
        "Z\u00d6E, zo\u00eb M\u00fcller, Zo\u00eb-Marie; \u0130van K\u0131m \u212aim, Kim.",
        "O'Connor's, o'connor, LIAM O'CONNOR, Liam_O'Connor, Liam",
        "Jane",
        "",
    ],
)
def test_names_are_found_as_the_alternation_of_their_variants_finds_them(text: str) -> None:
    names = ("Jane Doe", "Liam O'Connor", "Zoë Müller", "Kim Lee", "Ma Li", "Doe-Smith", "Ivan")
    assert [(f.kind, text[f.start : f.end]) for f in find_pii(text, names) if f.kind == PERSON] == _alternation_finds(
        text, names
    )


def test_ibans_start_at_a_word_boundary() -> None:
    assert kinds("(GB82WEST12345698765432)") == [(IBAN, "GB82WEST12345698765432")]
    assert kinds("XGB82WEST12345698765432 x") == []
    assert kinds("_GB82WEST12345698765432 x") == []
    assert kinds("\u00e9GB82WEST12345698765432 x") == []


def test_findings_are_remembered_per_text_and_people() -> None:
    text = "Jane Doe: mail jane@acme.com"
    first = find_pii(text, ("Jane Doe",))
    first.clear()  # a caller changing its list changes nothing remembered
    assert kinds(text, ("Jane Doe",)) == [(PERSON, "Jane Doe"), (EMAIL, "jane@acme.com")]
    assert kinds(text) == [(EMAIL, "jane@acme.com")]
    assert kinds(text, ("Jane Roe",)) == [(PERSON, "Jane"), (EMAIL, "jane@acme.com")]


# -- placeholders ------------------------------------------------------------------------------


def test_placeholders_are_stable_per_message_and_restore_the_values() -> None:
    text = "Mail jane@acme.com or bob@acme.com; again: jane@acme.com. Jane Doe, +44 20 7946 0958."
    redacted, redaction = redact_text(text, ["Jane Doe"])
    assert redacted == "Mail <EMAIL_1> or <EMAIL_2>; again: <EMAIL_1>. <PERSON_1>, <PHONE_1>."
    assert redaction.restore(redacted) == text
    assert redaction.restore("quote &lt;EMAIL_2&gt; and <CARD_9>") == "quote bob@acme.com and <CARD_9>"
    assert redaction.counts == {EMAIL: 2, PERSON: 1, PHONE: 1}


def test_a_text_that_already_holds_a_placeholder_string_keeps_its_meaning() -> None:
    text = "Our template says <EMAIL_1>; mine is jane@acme.com"
    redacted, redaction = redact_text(text)
    assert redacted == "Our template says <EMAIL_1>; mine is <EMAIL_2>"
    assert redaction.restore(redacted) == text


def test_one_redaction_shares_placeholders_across_a_messages_fields() -> None:
    redaction = Redaction(names=("Jane Doe",))
    assert redaction.redact("Re: call Jane Doe") == "Re: call <PERSON_1>"
    assert redaction.redact("Jane Doe here, reach me at jane@acme.com") == "<PERSON_1> here, reach me at <EMAIL_1>"


def test_an_organisation_setting_overrides_the_default() -> None:
    assert org_redacts({}, True) is True
    assert org_redacts({"pii_redaction": False}, True) is False
    assert org_redacts({"pii_redaction": True}, False) is True
    assert org_redacts(None, False) is False


# -- the guard in the engine -------------------------------------------------------------------

TEXT = "Jane Doe here: export to PDF fails, call +44 20 7946 0958 or mail jane@acme.com"


def test_the_guard_redacts_every_tasks_items() -> None:
    guard = PrivacyGuard(enabled_by_default=True)
    scope = message_scope(True, ["Jane Doe"], customer="Acme")
    guard.register(TEXT, scope)
    [(_, tier1)] = guard.protect(TIER1, [("0", Tier1Input(id="", text=TEXT))])
    assert tier1.text == "<PERSON_1> here: export to PDF fails, call <PHONE_1> or mail <EMAIL_1>"

    item = Tier2Input(text=TEXT, source="gmail", customer="Acme", title="From Jane Doe <jane@acme.com>", taxonomy=())
    [(_, tier2)] = guard.protect(TIER2, [("0", item)])
    assert tier2.title == "From <PERSON_1> <<EMAIL_1>>" and tier2.customer == "Acme"
    redaction = guard.tier2_redaction(item)
    assert redaction is not None
    assert redaction.restore("call <PHONE_1> or mail <EMAIL_1>") == "call +44 20 7946 0958 or mail jane@acme.com"

    insight = InsightInput(text=TEXT, source="gmail", customer="Jane Doe", mention_titles=("Call Jane back",))
    [(_, summarised)] = guard.protect(INSIGHT, [("0", insight)])
    assert "Jane" not in repr(summarised) and "jane@acme.com" not in repr(summarised)

    quote = "call +44 20 7946 0958 or mail jane@acme.com, says Jane"
    guard.register(quote, scope)
    candidate = MatchCandidate(id="r1", title="Export to PDF", description="asked by ops@acme.com")
    ask = MatchInput(title="PDF export", description="", sub_theme=None, candidates=(candidate,), quote=quote)
    [(_, matched)] = guard.protect(MATCH, [("0", ask)])
    assert matched.quote == "call <PHONE_1> or mail <EMAIL_1>, says <PERSON_1>"
    assert matched.candidates[0].description == "asked by <EMAIL_1>"
    assert guard.counts[EMAIL] >= 4


def test_a_text_nobody_registered_still_loses_its_addresses_numbers_and_keys() -> None:
    guard = PrivacyGuard(enabled_by_default=True)
    [(_, item)] = guard.protect(TIER1, [("0", Tier1Input(id="", text=TEXT))])
    assert item.text == "Jane Doe here: export to PDF fails, call <PHONE_1> or mail <EMAIL_1>"


def test_an_organisation_that_turned_redaction_off_sends_its_text_as_it_is() -> None:
    guard = PrivacyGuard(enabled_by_default=True)
    guard.register(TEXT, PiiScope(enabled=False, names=("Jane Doe",)))
    [(_, item)] = guard.protect(TIER1, [("0", Tier1Input(id="", text=TEXT))])
    assert item.text == TEXT
    assert PiiScope(enabled=False).fingerprint() != PiiScope(enabled=True).fingerprint()


class _Recorder(LlmProvider):
    """Answers tier-1 calls and keeps what it was asked (the offline provider reads the same payload)."""

    name = "recorder"

    def __init__(self) -> None:
        self.requests: list[LlmRequest] = []

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        self.requests.append(request)
        labels = [
            {"id": item.id, "is_feedback": True, "category": "bug_report", "relevance": 7, "confidence": 0.9}
            for item in request.payload
        ]
        return LlmResponse(parsed=Tier1Batch.model_validate({"labels": labels}))


def test_the_engine_builds_every_request_from_redacted_items() -> None:
    provider = _Recorder()
    engine = LlmEngine(provider, EngineConfig(models={TIER1: "m"}))
    engine.privacy.register(TEXT, message_scope(True, ["Jane Doe"]))
    answers = asyncio.run(engine.label({"h": TEXT}))
    assert "h" in answers
    [request] = provider.requests
    sent = request.user + repr(request.payload)
    for value in ("Jane", "Doe", "+44 20 7946 0958", "jane@acme.com"):
        assert value not in sent
    assert "&lt;EMAIL_1&gt;" in request.user and request.payload[0].text.endswith("<EMAIL_1>")


# -- the figures on the labelled set -----------------------------------------------------------


def test_the_pii_test_set_meets_the_recall_and_precision_targets() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from eval_redaction import DEFAULT_SET, evaluate, load

    records = load(DEFAULT_SET)
    result = evaluate(records)
    assert len(records) >= 200 and result["near_miss_messages"] >= 50
    assert result["recall"] >= 0.98, result["errors"]
    assert result["precision"] >= 0.95, result["errors"]
    holdout = evaluate(load(DEFAULT_SET.with_name("holdout.jsonl")))
    assert holdout["recall"] >= 0.98 and holdout["precision"] >= 0.95, holdout["errors"]
