"""The offline provider's tier-2 extractor, per-message summariser and catalogue matcher.

The example texts below were written for these tests (they are not demo-corpus phrasings).
The property tests at the end run the extractor over every message of a freshly generated
demo corpus.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from headway_assets import offline
from headway_assets.core.message import TimeWindow
from headway_assets.core.taxonomy import TAXONOMY_DIR, load_taxonomy_file
from headway_assets.demo import generate_demo, load_manifest
from headway_assets.llm.chunking import chunk_text
from headway_assets.llm.schemas import (
    CatalogMatch,
    InsightBatch,
    InsightDraft,
    MatchBatch,
    MentionBatch,
    MentionDraft,
    MentionExtraction,
)
from headway_assets.llm.tasks import (
    INSIGHT,
    MATCH,
    TIER2,
    InsightInput,
    MatchCandidate,
    MatchInput,
    Tier2Input,
    insight_request,
    match_request,
    tier2_request,
)
from headway_assets.offline import (
    CATALOG_THRESHOLD,
    OfflineExtractor,
    OfflineProvider,
    OfflineSummariser,
    TaxonomyMapper,
    clean_sentence,
    is_transcript,
    keywords_for,
    make_title,
    mapper_for,
    match,
    names_an_ask,
    similarity,
)
from headway_assets.sources.dispatch import ExportOptions, read_export

ACME = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml").listing()
# A taxonomy that exists in no file: names only, the general case of a real deployment.
NAMES_ONLY = (
    ("billing", "Billing & invoices"),
    ("billing/invoices", "Invoices"),
    ("billing/payment-methods", "Payment methods"),
    ("mobile", "Mobile app"),
    ("mobile/offline", "Offline mode"),
    ("mobile/notifications", "Push notifications"),
    ("workspace", "Workspace"),
    ("workspace/search", "Search"),
)


@pytest.fixture(scope="module")
def extractor() -> OfflineExtractor:
    return OfflineExtractor()


def extract(extractor: OfflineExtractor, text: str, taxonomy: tuple[tuple[str, str], ...] = ACME, **kw: str) -> list:
    item = Tier2Input(
        text=text,
        source=kw.get("source", "slack"),
        customer=kw.get("customer"),
        title=kw.get("title"),
        taxonomy=taxonomy,
    )
    mentions = extractor.extract(item).mentions
    for mention in mentions:  # the contract every answer must keep
        assert mention.evidence_quote in text
        assert 8 <= len(mention.evidence_quote) <= 600
        assert 3 <= len(mention.title) <= 120
    return mentions


# -- extraction -----------------------------------------------------------------------------


def test_feature_request_with_purpose_clause(extractor: OfflineExtractor) -> None:
    text = (
        "Could you please add a way to export dashboards as PDF files so that our board gets a printable copy "
        "every month?"
    )
    [mention] = extract(extractor, text, customer="Brightline Foods")
    assert mention.kind in ("feature_request", "improvement")
    assert "PDF" in mention.title
    assert not re.search(r"(?i)could you|please|so that", mention.title)
    assert mention.desired_outcome is not None and "board" in mention.desired_outcome
    assert (mention.theme, mention.sub_theme) == ("reporting", "reporting/exports")
    assert mention.sentiment == "neutral"


def test_bug_report(extractor: OfflineExtractor) -> None:
    text = "Since Tuesday's release the CSV export fails with a 500 error on every report over 10k rows."
    [mention] = extract(extractor, text)
    assert mention.kind == "bug_report"
    assert mention.sentiment == "negative"
    # The title names the ask (fix the failing export); the defect stays in the description.
    assert "CSV export" in mention.title and names_an_ask(mention.title)
    assert "fails with a 500 error" in mention.description
    assert mention.sub_theme == "reporting/exports"
    assert mention.urgency in ("medium", "high")
    assert mention.problem_statement


def test_multi_ask_email_gives_one_mention_per_ask_in_text_order(extractor: OfflineExtractor) -> None:
    text = (
        "Hi team,\n\n"
        "Two things from our side. We really need SAML single sign-on with Okta before we can roll out to "
        "finance. Also, the dashboards are painfully slow since the last update, they take over a minute to "
        "load.\n\nThanks,\nDana"
    )
    mentions = extract(extractor, text, source="gmail", customer="Kestrel Bank", title="Feedback")
    assert [m.sub_theme for m in mentions] == ["security-admin/sso", "experience/performance"] or [
        m.sub_theme for m in mentions
    ] == ["security-admin/sso", "reporting/dashboards"]
    assert "Okta" in mentions[0].title
    assert mentions[1].kind in ("pain_point", "bug_report")
    assert all("Kestrel" not in m.title for m in mentions)


def test_repeats_of_one_ask_are_merged(extractor: OfflineExtractor) -> None:
    text = (
        "Please add dark mode to the editor. Our night shift would really love a dark mode for the editor. "
        "Dark mode for the editor would help a lot."
    )
    mentions = extract(extractor, text)
    assert len(mentions) == 1
    assert "dark mode" in mentions[0].title.lower()


def test_transcript_with_small_talk(extractor: OfflineExtractor) -> None:
    text = (
        "Sam Lee: Morning! How was the trip to Lisbon?\n"
        "Ana Costa: Lovely, thanks, the weather was great and the food even better.\n"
        "Sam Lee: Glad to hear it. Shall we get started?\n"
        "Ana Costa: Sure. One thing from the team: we really need scheduled reports to be delivered to a Slack "
        "channel, nobody reads the emails.\n"
        "Sam Lee: Noted, I'll pass that on.\n"
        "Ana Costa: Can we make it 3pm next week instead?\n"
        "Sam Lee: Works for me. Have a good weekend!\n"
    )
    assert is_transcript(text)
    mentions = extract(extractor, text, source="gong", customer="Ana's Bakery")
    assert len(mentions) == 1
    assert "Slack" in mentions[0].title
    assert mentions[0].sub_theme == "reporting/scheduled-reports"
    assert not mentions[0].evidence_quote.startswith("Ana Costa:")


@pytest.mark.parametrize("speaker", ["<PERSON_1>", "Diego Alvarez"])
def test_a_transcript_mentions_description_says_what_was_said_not_who_said_it(
    extractor: OfflineExtractor, speaker: str
) -> None:
    # Redaction puts placeholders where speakers' names were; before, the description kept the
    # label, mangled by the markup cleaner into "<PERSON 1 : From Vandelay ...".
    text = (
        "Priya Raman: Ticket volume was flat this week.\n"
        "Marcus Webb: Let's make sure the CSMs know what's shipping this month.\n"
        f"{speaker}: From Vandelay Industries:: We can't trust the morning numbers because the Snowflake sync"
        " fails half the time.\n"
        "Marcus Webb: I'll update the feedback board after this meeting.\n"
    )
    assert is_transcript(text)
    mentions = extract(extractor, text, source="fathom")
    assert len(mentions) == 1
    (mention,) = mentions
    assert "trust the morning numbers" in mention.description
    assert speaker not in mention.description and "<PERSON" not in mention.description, mention.description
    assert not mention.description.startswith(":"), mention.description


def test_cleaning_keeps_redaction_placeholders_whole() -> None:
    text = "Send it to <EMAIL_1> or call <PHONE_12>, says **<PERSON_3>** _today_"
    assert clean_sentence(text) == "Send it to <EMAIL_1> or call <PHONE_12>, says <PERSON_3> today"
    assert clean_sentence("a dark theme 🌙 ask <PERSON_1>", symbols_as_breaks=True) == "a dark theme . ask <PERSON_1>"


@pytest.mark.parametrize(
    "text",
    [
        "Hi all, thanks for the call today! Talk next week. Have a great weekend 🙂",
        "Out of office until Monday. For urgent matters contact the front desk.",
        "Invoice #4411 is attached. Payment is due within 30 days.",
        # An internal meeting's status line: "churn" here is a metric, not a threat to leave.
        "Grace Liu: Churn risk list is unchanged from last week. Emma Dubois: Next one on the list.",
        "",
        "   \n\n  ",
    ],
)
def test_noise_gives_no_mentions(extractor: OfflineExtractor, text: str) -> None:
    assert extract(extractor, text) == []


def test_non_english_text_is_handled(extractor: OfflineExtractor) -> None:
    spanish = "¿Podrían añadir una opción para exportar los paneles a PDF? Lo necesitamos para la junta."
    mentions = extract(extractor, spanish, customer="Clínica Norte")
    assert len(mentions) == 1 and "PDF" in mentions[0].title
    # Scripts the rules do not read: no crash, and whatever comes back keeps the contract.
    for text in ("ダッシュボードをPDFで出力できるようにしてほしいです。", "Пожалуйста, добавьте экспорт в PDF."):
        extract(extractor, text)


def test_emoji_do_not_leak_into_titles(extractor: OfflineExtractor) -> None:
    text = "Dark mode please!! 🌙🙏 Our analysts work nights 😅"
    [mention] = extract(extractor, text)
    assert mention.title == "Dark mode"
    assert mention.sub_theme == "experience/look-and-feel"


def test_urgency_and_churn_risk(extractor: OfflineExtractor) -> None:
    critical = "If SSO with Okta is not there by our renewal we will switch to another vendor."
    [mention] = extract(extractor, critical)
    assert mention.urgency == "critical"
    low = "It would be nice to have a compact table density option at some point, no rush."
    [mention] = extract(extractor, low)
    assert mention.urgency == "low"


def test_extraction_is_deterministic(extractor: OfflineExtractor) -> None:
    text = "Our Snowflake sync keeps timing out every night. Could you also add anomaly alerts on revenue?"
    first = extractor.extract(Tier2Input(text, "slack", None, None, ACME))
    second = OfflineExtractor().extract(Tier2Input(text, "slack", None, None, ACME))
    assert first.model_dump() == second.model_dump()
    assert [m.sub_theme for m in first.mentions] == ["data/sync", "analysis/alerts"]


def test_at_most_eight_mentions(extractor: OfflineExtractor) -> None:
    areas = ["PDF export", "Okta SSO", "dark mode", "SCIM provisioning", "anomaly alerts", "audit log export"]
    areas += ["white-label embedding", "fiscal calendars", "version history", "Slack delivery"]
    text = " ".join(f"Please add {area} to the product." for area in areas)
    mentions = extract(extractor, text)
    assert len(mentions) == 8


# -- titles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "is_bug", "expected"),
    [
        ("Could you please add SAML single sign-on?", False, "SAML single sign-on"),
        ("It would be great if we could bulk edit tags.", False, "Bulk edit tags"),
        ("Is there any way to undo a deleted comment?", False, "Undo a deleted comment"),
        ("We really need a Jira integration because our devs live there.", False, "Jira integration"),
        ("Any chance of a keyboard shortcut for search?", False, "Keyboard shortcut for search"),
        ("Feature request: webhooks for new signups", False, "Webhooks for new signups"),
        ("The mobile app has been crashing on launch since the update.", True, "Mobile app crashing on launch"),
        (
            "When I rename a folder, the sharing settings disappear.",
            True,
            "Sharing settings disappear when I rename a folder",
        ),
    ],
)
def test_title_rules(sentence: str, is_bug: bool, expected: str) -> None:
    assert make_title(clean_sentence(sentence), is_bug=is_bug).title == expected


def test_title_reason_and_purpose_clauses() -> None:
    parts = make_title("We need audit logs so that compliance can review admin changes.", is_bug=False)
    assert parts.title == "Audit logs"
    assert parts.purpose == "So that compliance can review admin changes"
    parts = make_title("Please raise the upload limit because our videos are 4 GB.", is_bug=False)
    assert parts.title == "Raise the upload limit"
    assert parts.reason == "Because our videos are 4 GB"


def test_titles_drop_customer_names() -> None:
    parts = make_title(
        "Passing this along from Priya at Vantage Labs: “Vantage Labs needs SCIM provisioning.”",
        is_bug=False,
        names=("Vantage Labs",),
    )
    assert "Vantage" not in parts.title
    assert "SCIM" in parts.title


# -- taxonomy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please support paying by SEPA direct debit as a payment method.", "billing/payment-methods"),
        ("The iOS app should keep working offline in the warehouse.", "mobile/offline"),
        ("Push notifications on Android arrive hours late.", "mobile/notifications"),
        ("Downloading a past invoice as PDF fails.", "billing/invoices"),
        ("Searching the workspace never finds archived files.", "workspace/search"),
    ],
)
def test_names_only_taxonomy_mapping(text: str, expected: str) -> None:
    placement = TaxonomyMapper(NAMES_ONLY).place(text)
    assert placement.sub_theme == expected
    assert placement.theme == expected.split("/")[0]


def test_keywords_come_from_a_matching_taxonomy_file_only() -> None:
    keywords = keywords_for(ACME)
    assert "scim" in keywords["security-admin/provisioning"]
    assert keywords_for(NAMES_ONLY) == {}
    renamed = tuple((path, f"{name} (renamed)") for path, name in ACME)
    assert keywords_for(renamed) == {}  # same paths, different nodes: their keywords do not apply
    # A keyword that is in no node name still places the ask ("fiscal" only in acme's keywords).
    assert mapper_for(ACME).place("Our fiscal year starts in February").sub_theme == "analysis/filters"
    assert mapper_for(ACME, use_keyword_files=False).place("Our fiscal year starts in February").sub_theme is None


def test_nothing_placed_without_overlap() -> None:
    placement = TaxonomyMapper(NAMES_ONLY).place("The weather was lovely in Porto.")
    assert (placement.theme, placement.sub_theme) == (None, None)
    assert TaxonomyMapper(()).place("Anything at all").sub_theme is None


# -- summariser ---------------------------------------------------------------------------------


def test_summary_uses_customer_and_mention_titles() -> None:
    item = InsightInput(
        text="Could you add Okta SSO? Also the PDF export cuts off wide tables.",
        source="gmail",
        customer="Harbor Freight Labs",
        mention_titles=("Okta SSO", "PDF export cuts off wide tables"),
    )
    draft = OfflineSummariser().summarise(item)
    assert draft.summary.startswith("Harbor Freight Labs ")
    assert "Okta SSO" in draft.summary and "PDF export cuts off wide tables" in draft.summary
    assert len(draft.summary.split()) <= 40
    assert 2 <= len(draft.key_topics) <= 5
    assert "single sign-on" in draft.key_topics


def test_summary_without_titles_extracts_its_own() -> None:
    item = InsightInput(
        text="The week view is painfully slow with twenty providers, it takes half a minute to load.",
        source="slack",
        customer=None,
        mention_titles=(),
    )
    draft = OfflineSummariser().summarise(item)
    assert draft.summary.startswith("A customer ")
    assert draft.sentiment == "negative"
    assert "performance" in draft.key_topics
    assert len(draft.summary.split()) <= 40


def test_summary_of_praise_is_positive_and_long_inputs_stay_short() -> None:
    praise = InsightInput("Love the new report builder, it saves us hours every week!", "slack", "Orbit", ())
    assert OfflineSummariser().summarise(praise).sentiment == "positive"
    many = tuple(f"Ask number {i} about exports and dashboards and alerts" for i in range(10))
    draft = OfflineSummariser().summarise(InsightInput("Several asks.", "gong", "Orbit", many))
    assert len(draft.summary.split()) <= 40 and len(draft.summary) <= 400


# -- matcher ------------------------------------------------------------------------------------

SAME_ASK = [
    (("SAML SSO", "Can you add SAML SSO?"), ("Okta single sign-on", "We want to log in through Okta.")),
    (
        ("Export dashboards to PDF", "Please let us export a dashboard as a PDF."),
        ("Download dashboard as PDF", "A download-as-PDF button on dashboards would help."),
    ),
    (
        ("Bulk reschedule appointments", "We need to move many appointments at once."),
        ("Reschedule several appointments together", "Rescheduling appointments one by one takes hours."),
    ),
    (
        ("Snowflake sync times out", "The Snowflake sync times out every night."),
        ("Snowflake sync failing", "Our Snowflake sync has been failing since Monday."),
    ),
    (
        ("Webhooks for new signups", "Could you send a webhook when someone signs up?"),
        ("Signup webhooks", "A webhook on every new signup would let us sync our CRM."),
    ),
]
DIFFERENT_ASKS_SAME_AREA = [
    (
        ("Export dashboards to PDF", "Please let us export a dashboard as a PDF."),
        ("Raise the CSV row limit", "CSV exports stop at 100k rows."),
    ),
    (
        ("Okta single sign-on", "We want to log in through Okta."),
        ("Azure AD single sign-on", "We need SSO with Azure AD."),
    ),
    (
        ("Dark mode", "A dark theme for the editor, please."),
        ("Custom fonts in reports", "Let us pick the report font."),
    ),
    (
        ("Scheduled reports to Slack", "Deliver the daily report to a Slack channel."),
        ("Scheduled reports use the wrong timezone", "The daily report arrives an hour late after the clock change."),
    ),
]


@pytest.mark.parametrize(("left", "right"), SAME_ASK)
def test_paraphrases_match(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert similarity(*left, *right) >= CATALOG_THRESHOLD
    assert similarity(*right, *left) >= CATALOG_THRESHOLD


@pytest.mark.parametrize(("left", "right"), DIFFERENT_ASKS_SAME_AREA)
def test_different_asks_of_one_area_do_not_match(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert similarity(*left, *right) < CATALOG_THRESHOLD


def test_match_picks_the_same_request_or_none() -> None:
    candidates = (
        MatchCandidate("csv", "Raise the CSV row limit", "CSV exports stop at 100k rows."),
        MatchCandidate("pdf", "Export dashboards to PDF", "Please let us export a dashboard as a PDF."),
    )
    found = match(MatchInput("Download dashboard as PDF", "A PDF download button on dashboards.", None, candidates))
    assert found.candidate_id == "pdf" and found.score >= CATALOG_THRESHOLD
    none = match(MatchInput("Dark mode", "A dark theme please.", "experience/look-and-feel", candidates))
    assert none.candidate_id is None and 0.0 <= none.score < CATALOG_THRESHOLD
    empty = match(MatchInput("Dark mode", "A dark theme please.", None, ()))
    assert empty == CatalogMatch(candidate_id=None, score=0.0)
    # Deterministic, whatever was computed before.
    assert (
        match(MatchInput("Download dashboard as PDF", "A PDF download button on dashboards.", None, candidates))
        == found
    )


def test_identical_asks_score_one() -> None:
    assert similarity("Okta SSO", "We need Okta SSO.", "Okta SSO", "We need Okta SSO.") == 1.0


# -- entry point and provider --------------------------------------------------------------------


def test_answer_dispatches_and_rejects_bad_input() -> None:
    tier2 = offline.answer(TIER2, Tier2Input("Please add Okta SSO.", "slack", None, None, ACME))
    assert isinstance(tier2, MentionExtraction) and len(tier2.mentions) == 1
    insight = offline.answer(INSIGHT, InsightInput("Please add Okta SSO.", "slack", "Orbit", ()))
    assert isinstance(insight, InsightDraft)
    matched = offline.answer(MATCH, MatchInput("Okta SSO", "", None, (MatchCandidate("a", "Okta SSO", ""),)))
    assert isinstance(matched, CatalogMatch) and matched.candidate_id == "a"
    with pytest.raises(ValueError, match="no task 'tier9'"):
        offline.answer("tier9", None)
    with pytest.raises(TypeError, match="needs a Tier2Input payload, got str"):
        offline.answer(TIER2, "Please add Okta SSO.")


def test_offline_provider_answers_all_three_tasks() -> None:
    provider = OfflineProvider()
    item = Tier2Input(
        "Since this morning our Okta SSO login fails with an error.", "gmail", "Orbit", "Login broken", ACME
    )

    async def run() -> list[object]:
        requests = [
            tier2_request([("m1", item)]),
            insight_request([("m1", InsightInput(item.text, "gmail", "Orbit", ("Okta SSO login loops",)))]),
            match_request(
                [
                    (
                        "m1",
                        MatchInput("Okta login loop", "", "security-admin/sso", (MatchCandidate("x", "Okta SSO", ""),)),
                    )
                ]
            ),
        ]
        return [(await provider.generate(r, "offline")).parsed for r in requests]

    tier2, insight, matched = asyncio.run(run())
    assert isinstance(tier2, MentionBatch) and tier2.items[0].id == "m1"
    assert tier2.items[0].mentions[0].kind == "bug_report"
    assert isinstance(insight, InsightBatch) and insight.items[0].summary.startswith("Orbit reports")
    assert isinstance(matched, MatchBatch) and [item.id for item in matched.items] == ["m1"]


# -- properties over the demo corpus ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_extractions(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str | None, list[MentionDraft]]]:
    """(chunk text, customer, mentions) for every chunk of every message of a fresh demo corpus."""
    out: Path = tmp_path_factory.mktemp("demo")
    generate_demo(out)
    manifest = load_manifest(out / "manifest.json")
    window = TimeWindow(manifest.window_start, manifest.window_end)
    extractor = OfflineExtractor()
    results: list[tuple[str, str | None, list[MentionDraft]]] = []
    for org in manifest.orgs:
        taxonomy = load_taxonomy_file(TAXONOMY_DIR / f"{org.slug}.yaml").listing()
        options = ExportOptions(org.internal_domains, org.workspace_url, org.support_mailbox)
        for connection in org.connections:
            for message in read_export(connection.source, out / connection.path, window, options).messages:
                for chunk in chunk_text(message.text):
                    item = Tier2Input(chunk.text, message.source, message.customer, message.title, taxonomy)
                    results.append((chunk.text, message.customer, extractor.extract(item).mentions))
    return results


def test_demo_quotes_are_always_substrings(demo_extractions: list[tuple[str, str | None, list[MentionDraft]]]) -> None:
    mentions = [(text, m) for text, _, found in demo_extractions for m in found]
    assert len(mentions) >= 150  # the corpus is full of asks: the extractor must find many
    for text, mention in mentions:
        assert mention.evidence_quote in text
        assert MentionDraft.model_validate(mention.model_dump()) == mention


def test_demo_titles_are_customer_free_and_placed(
    demo_extractions: list[tuple[str, str | None, list[MentionDraft]]],
) -> None:
    placed = total = 0
    for _, customer, found in demo_extractions:
        assert len(found) <= 8
        for mention in found:
            total += 1
            placed += mention.sub_theme is not None
            if customer:
                assert customer.lower() not in mention.title.lower()
    assert placed / total >= 0.85
