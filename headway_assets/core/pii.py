"""Personal data found in message text and replaced by stable placeholders before any LLM call.

What is found (each a kind of placeholder):

- `SECRET`: API keys and tokens by their vendors' shapes (OpenAI/Anthropic `sk-…`, Slack `xox?-…`,
  GitHub `ghp_…`/`github_pat_…`, AWS `AKIA…`, Google `AIza…`, Stripe, SendGrid, JWTs, the token of
  `Bearer …`, the value of `api_key=…`/`password: …`, PEM private keys);
- `EMAIL`: e-mail addresses;
- `IBAN`: IBANs whose length fits their country and whose mod-97 checksum holds;
- `CARD`: payment card numbers (13-19 digits, spaces or dashes between groups allowed) with a
  card network's prefix and a valid Luhn checksum;
- `PHONE`: phone numbers that libphonenumber (`phonenumbers`) finds and validates, in
  international form (`+…`) or in the national form of the regions tried; a bare run of digits
  counts only after a word such as "phone" or "call", so order numbers and ids stay;
- `PERSON`: the names of the message's people (its author and participants, from the message's
  own fields), whole and by first and last name.

A `Redaction` replaces every finding with `<KIND_N>`: the same value gets the same placeholder
throughout the message (its subject, body and other fields share one redaction), and
`restore` puts the values back into a text the model wrote from it (an evidence quote).
Redaction is a pure function of the text and the people given, so the mapping never has to be
stored: whoever owns the message can compute it again.
"""

from __future__ import annotations

import hashlib
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers

# Bump when what is found changes: it is part of the cache key of answers that are restored.
REDACTION_VERSION = "pii-v1"

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
SECRET = "SECRET"
PERSON = "PERSON"
KINDS = (SECRET, EMAIL, IBAN, CARD, PHONE, PERSON)

# Regions whose national number formats are recognised without a leading "+" (numbers with one
# are found whatever the region). The first is libphonenumber's default region.
PHONE_REGIONS = ("US", "GB", "DE", "FR")
# A bare digit run (no "+", no separators) is a phone number only right after one of these.
_PHONE_CUE = re.compile(
    r"(?:phone|tel|telephone|mobile|cell|call|ring|text|sms|whatsapp|fax|ph|number|no|nr|on|at)\.?:?\s*$",
    re.IGNORECASE,
)
# Words before a number that make it an id, not a phone number.
_ID_CUE = re.compile(
    r"(?:order|invoice|ticket|case|ref|reference|id|account|acct|po|build|version|release|tracking|"
    r"confirmation|transaction|txn|sku|serial|job|run|issue|pr|#)\s*(?:no\.?|number|nr|#|:)?\s*#?\s*$",
    re.IGNORECASE,
)

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
)

# The value after a word that says it is a secret (`api_key=…`, `password: …`).
_KEYWORD_SECRET = re.compile(
    r"\b(?:api[_-]?key|apikey|api[_-]?secret|secret[_-]?key|client[_-]?secret|access[_-]?token|"
    r"auth[_-]?token|token|password|passwd|pwd)\b\s*[:=]\s*[\"']?(?P<secret>[^\s\"',;]{8,})",
    re.IGNORECASE,
)

# Keys and tokens by shape; a pattern with a group named "secret" redacts that group only. Each
# comes with literals one of which every match contains (lower case for a case-insensitive
# pattern): a text holding none is not scanned. An `in` test runs at C speed; a pattern that
# starts with `\b` is tried at every position of the text (~50 ns a character, per pattern).
_SECRET_PATTERNS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----"), ("-----BEGIN ",)),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), (".eyJ",)),  # JWT
    (re.compile(r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), ("sk-",)),  # OpenAI, Anthropic
    (re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"), ("k_live_", "k_test_")),  # Stripe
    (re.compile(r"\bwhsec_[A-Za-z0-9]{16,}"), ("whsec_",)),  # Stripe webhook signing secret
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), ("xox",)),  # Slack
    (re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}"), ("xapp-",)),  # Slack app-level token
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),  # GitHub
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}"), ("github_pat_",)),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), ("glpat-",)),  # GitLab
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), ("AKIA", "ASIA")),  # AWS access key id
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), ("AIza",)),  # Google API key
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"), ("SG.",)),  # SendGrid
    (re.compile(r"\b(?:hf|pat|shpat|npm)_[A-Za-z0-9]{20,}"), ("hf_", "pat_", "npm_")),  # Hugging Face, Shopify, npm ...
    (re.compile(r"\bBearer\s+(?P<secret>[A-Za-z0-9._~+/-]{16,}=*)", re.IGNORECASE), ("bearer",)),
    (_KEYWORD_SECRET, ("key", "secret", "token", "passw", "pwd")),
]
_SECRETS = [(pattern, needs, bool(pattern.flags & re.IGNORECASE)) for pattern, needs in _SECRET_PATTERNS]

# Country code -> IBAN length (ISO 13616 registry; the countries Headway's customers bank in
# most). Other countries are accepted at 15-34 characters when the checksum holds.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
# Without a leading `\b` (which makes the pattern be tried at every position); `_find_ibans`
# checks the boundary. No IBAN is skipped by one that fails the check: a match is word characters
# only, so no boundary lies inside it.
_IBAN_START = re.compile(r"([A-Z]{2})(\d{2})(?=[ ]?[A-Z0-9])")
_IBAN_CHAR = re.compile(r"[A-Z0-9]")

_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w]|[.-]\d)")
_MIN_CARD_DIGITS = 13
_DECIMAL = re.compile(r"\d")
# Card networks' leading digits (IIN ranges): Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|64[4-9]|65|35|30[0-5]|36|38|39|62|50|5[6-9]|6[37])")

_DATE = re.compile(r"\b\d{1,4}([./-])\d{1,2}\1\d{2,4}\b")
_PLACEHOLDER = re.compile(r"(?:<|&lt;)(" + "|".join(KINDS) + r")_(\d+)(?:>|&gt;)")

# Name parts that are common words too: redacted inside a full name, not when they stand alone.
_COMMON_WORD_LIST = """
a admin an and are art bill billing black bot brown can case cash chase check customer da das dash
dawn day de del den der desk di die do doc drew el engineer faith frank glad grace gray green guy
hall help hill hope info jack joy june king la lane las le long los love major march mark max may
miles nick no noble ops page park pat penny price product ray reed rep rich rob rose sales service
sky so success summer sunny support team the to un une us van von white will win wood young
"""
COMMON_NAME_WORDS = frozenset(_COMMON_WORD_LIST.split())
_MIN_NAME_PART = 2


@dataclass(frozen=True, order=True)
class Finding:
    """One piece of personal data: where it is in the text and what kind it is."""

    start: int
    end: int
    kind: str


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """Whether `text` (digits, spaces, dashes) is a payment card number: 13-19 digits, a network's
    prefix, a valid Luhn checksum, and groups separated consistently."""
    digits = re.sub(r"[ -]", "", text)
    if not digits.isdigit() or not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    separators = set(re.findall(r"[ -]", text))
    if len(separators) > 1:
        return False
    return bool(_CARD_PREFIX.match(digits)) and _luhn_ok(digits)


def is_iban(text: str) -> bool:
    """Whether `text` (spaces allowed) is an IBAN: its country's length and a mod-97 remainder of 1."""
    compact = text.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


# The characters besides ASCII letters that a case-insensitive pattern takes for one though
# `str.lower` does not make them one (İ ı ſ K; `tests/llm/test_pii_redaction.py` checks the list
# against every code point).
ASCII_CASE_FOLDS = "\u0130\u0131\u017f\u212a"


def _lowered(text: str) -> str | None:
    """`text` in lower case, to tell at C speed that a case-insensitive pattern cannot match (an
    ASCII literal every match holds is not in it); None when that test would not be sound."""
    if not text.isascii() and any(char in text for char in ASCII_CASE_FOLDS):
        return None
    return text.lower()


def _find_secrets(text: str, lowered: str | None) -> Iterable[Finding]:
    for pattern, needs, ignore_case in _SECRETS:
        haystack = lowered if ignore_case else text
        if haystack is not None and not any(literal in haystack for literal in needs):
            continue
        for match in pattern.finditer(text):
            if "secret" in pattern.groupindex and match.group("secret") is not None:
                start, end = match.span("secret")
                if pattern is _KEYWORD_SECRET and not _looks_like_secret(match.group("secret")):
                    continue
            else:
                start, end = match.span()
            yield Finding(start, end, SECRET)


def _looks_like_secret(value: str) -> bool:
    """A `password: …` value is a secret when it mixes letters and digits or is long; "token: expired"
    and a placeholder someone already wrote are not."""
    if value.startswith("<") or value.lower() in {"redacted", "[redacted]", "none", "null", "xxxxxxxx"}:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return (has_digit and has_alpha) or len(value) >= 20


def _find_emails(text: str) -> Iterable[Finding]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield Finding(match.start(), match.end(), EMAIL)


def _find_ibans(text: str) -> Iterable[Finding]:
    for match in _IBAN_START.finditer(text):
        if match.start() > 0 and _is_word_char(text[match.start() - 1]):
            continue  # not at a word boundary (what `\b` said)
        country = match.group(1)
        lengths = [IBAN_LENGTHS[country]] if country in IBAN_LENGTHS else list(range(34, 14, -1))
        # Walk the characters after the check digits (single spaces allowed between groups).
        positions: list[int] = []
        index = match.start()
        while index < len(text) and len(positions) < max(lengths):
            char = text[index]
            if _IBAN_CHAR.fullmatch(char):
                positions.append(index)
            elif not (char == " " and index + 1 < len(text) and _IBAN_CHAR.fullmatch(text[index + 1])):
                break
            index += 1
        for length in lengths:
            if len(positions) < length:
                continue
            end = positions[length - 1] + 1
            after = text[end : end + 1]
            if after and after.isalnum() and not (len(positions) > length and text[end] == " "):
                continue  # the IBAN would end inside a word
            if is_iban(text[match.start() : end]):
                yield Finding(match.start(), end, IBAN)
                break


def _is_word_char(char: str) -> bool:
    """Whether `char` is a word character (what the pattern `\\w` matches in a str)."""
    return char.isalnum() or char == "_"


def _find_cards(text: str, digits: int) -> Iterable[Finding]:
    if digits < _MIN_CARD_DIGITS:
        return
    for match in _CARD.finditer(text):
        raw = match.group()
        if raw.isdigit() and _ID_CUE.search(text[max(0, match.start() - 30) : match.start()]):
            continue  # "order #4111…": an id written without a card's groups
        if is_card_number(raw):
            yield Finding(match.start(), match.end(), CARD)


def _phone_allowed(text: str, start: int, end: int, raw: str) -> bool:
    """Keep ids, order numbers, versions and amounts out: a number needs a "+", separators, or a
    phone word before it, and no id word."""
    before = text[max(0, start - 30) : start]
    if _ID_CUE.search(before):
        return False
    if before.rstrip().endswith(("$", "€", "£", "v", "V")):
        return False
    if raw.startswith("+") or raw.startswith("00") or raw.startswith("("):
        return True
    if text[end : end + 1] == ":" or _DATE.search(raw):
        return False  # a date or a time of day ("03.15.2024 23:59")
    digits = re.sub(r"\D", "", raw)
    separated = bool(re.search(r"\d[\s.\-/)]+\d", raw))
    if separated and not re.fullmatch(r"\d{1,4}([.\-/])\d{1,2}\1\d{1,4}", raw):  # not a date
        return len(digits) >= 7
    return bool(_PHONE_CUE.search(before))


# An international number as written: "+", a country code, then digits and separators.
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){2,6}(?![\w-])")


def _digit_count(text: str) -> int:
    """How many characters of `text` are digits (`str.isdigit`)."""
    if text.isascii():  # then `\d` and `str.isdigit` agree, and findall runs in C
        return len(_DECIMAL.findall(text))
    return sum(map(str.isdigit, text))


def _find_phones(text: str, regions: Iterable[str], digits: int) -> Iterable[Finding]:
    if digits < 7:
        return
    seen: set[tuple[int, int]] = set()
    # "+CC …" is a phone number whenever its length is possible for the country, valid or not
    # (people write numbers libphonenumber's tables do not know, test numbers among them).
    for match in _INTERNATIONAL.finditer(text) if "+" in text else ():  # the pattern needs a "+"
        try:
            number = phonenumbers.parse(match.group(), None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            seen.add(match.span())
            yield Finding(match.start(), match.end(), PHONE)
    for start, end in _number_windows(text):
        window = text[start:end]
        for region in regions:
            for found in phonenumbers.PhoneNumberMatcher(window, region, leniency=phonenumbers.Leniency.VALID):
                span = (start + found.start, start + found.end)
                if span in seen:
                    continue
                seen.add(span)
                if _phone_allowed(text, span[0], span[1], found.raw_string):
                    yield Finding(span[0], span[1], PHONE)


# A run of digits with the separators a phone number is written with; one with at least
# `_MIN_PHONE_DIGITS` digits is where libphonenumber's matcher is worth running.
_DIGIT_RUN = re.compile(r"\d[\d\s().\-/]*\d")
_MIN_PHONE_DIGITS = 5  # below every national number length of the regions searched
_WINDOW_MARGIN = 40  # characters either side: the matcher and `_phone_allowed` read the context


def _number_windows(text: str) -> list[tuple[int, int]]:
    """The parts of `text` the phone matcher reads (merged when they overlap): each run of digits
    long enough to be a number, with its context. A long text with a few numbers (a call
    transcript) is matched in a few short windows, not whole, once per region: libphonenumber's
    matcher costs about 30 ms per kilobyte of digit-rich text."""
    windows: list[tuple[int, int]] = []
    for match in _DIGIT_RUN.finditer(text):
        if sum(char.isdigit() for char in match.group()) < _MIN_PHONE_DIGITS:
            continue
        start, end = max(0, match.start() - _WINDOW_MARGIN), min(len(text), match.end() + _WINDOW_MARGIN)
        # Widen to whitespace so that no window cuts a word (the matcher reads its edges).
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def name_variants(names: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
    """The strings to look for, longest first: each full name (and its parts joined in reading
    order), then each first or last name of at least two letters that is not a common word and
    not one of the `keep` words (a company named after its founder keeps its name; the founder's
    full name is still found)."""
    return list(_name_variants(tuple(names), tuple(keep)))


@lru_cache(maxsize=4096)
def _name_variants(names: tuple[str, ...], keep: tuple[str, ...]) -> tuple[str, ...]:
    kept = {word.casefold() for word in keep}
    full: set[str] = set()
    parts: set[str] = set()
    for name in names:
        cleaned = " ".join(re.sub(r"[\(\)\[\]\"<>]", " ", name or "").split())
        if not cleaned or "@" in cleaned or not any(char.isalpha() for char in cleaned):
            continue
        # "Doe, Jane" is "Jane Doe" too.
        if "," in cleaned:
            last, _, first = cleaned.partition(",")
            cleaned_parts = [first.strip(), last.strip()]
            full.add(" ".join(p for p in cleaned_parts if p))
        tokens = [t.strip(".,") for t in cleaned.replace(",", " ").split()]
        tokens = [t for t in tokens if t]
        if len(tokens) > 1:
            full.add(" ".join(tokens))
        for token in tokens:
            if (
                len(token) >= _MIN_NAME_PART
                and any(c.isalpha() for c in token)
                and token.lower() not in COMMON_NAME_WORDS
                and token.casefold() not in kept
            ):
                parts.add(token)
            elif len(tokens) == 1 and len(token) >= _MIN_NAME_PART:
                full.add(token)  # a one-word name is the whole name, common word or not
    return tuple(sorted(full | parts, key=lambda value: (-len(value), value)))


def _name_source(variants: Iterable[str]) -> str:
    alternation = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in variants)
    # "@Jane" and "Jane's" are Jane; "jane.doe" (an address or a handle) is left to the other kinds.
    return rf"(?<![\w.])(?:{alternation})(?![\w@]|\.\w)"


@lru_cache(maxsize=1024)  # a pattern of many names is large; only texts the shortcut cannot read use one
def _name_pattern(variants: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(_name_source(variants), re.IGNORECASE)


def _find_names(text: str, names: Iterable[str], keep: Iterable[str], lowered: str | None) -> Iterable[Finding]:
    """The names' matches: what `finditer` of their alternation (longest first) finds, without
    compiling or running it. A name can start only where its first word is in the lower-case text
    (found at C speed); there the names starting with that word are tried in the alternation's
    order, by comparing lower-case words and the pattern's boundaries (`_name_at`)."""
    variants = _name_variants(tuple(names), tuple(keep))
    if not variants:
        return
    if lowered is None or len(lowered) != len(text) or not all(v.isascii() for v in variants):
        # Non-ASCII letters have case pairs that `str.lower` does not give: scan the text.
        for match in _name_pattern(variants).finditer(text):
            yield Finding(match.start(), match.end(), PERSON)
        return
    tried: dict[int, list[list[str]]] = {}  # where a name may start -> its words, in the alternation's order
    places: dict[str, list[int]] = {}
    for variant in variants:
        words = variant.lower().split()
        if not all(word in lowered for word in words):
            continue
        if words[0] not in places:
            places[words[0]] = _occurrences(lowered, words[0])
        for place in places[words[0]]:
            tried.setdefault(place, []).append(words)
    end = 0
    for place in sorted(tried):
        if place < end:
            continue  # inside the previous match, as `finditer` goes on after it
        for words in tried[place]:
            found = _name_at(text, lowered, place, words)
            if found is not None:
                end = found
                yield Finding(place, end, PERSON)
                break


def _name_at(text: str, lowered: str, place: int, words: list[str]) -> int | None:
    """Where the name of `words` ends if `_name_source`'s pattern matches it at `place` (the first
    word is there): not after a word character or ".", its words apart by whitespace (`\\s+`,
    taken greedily: a word never starts with whitespace), and not followed by a word character, "@"
    or "." and a word character. None when it does not match there."""
    if place > 0 and (_is_word_char(text[place - 1]) or text[place - 1] == "."):
        return None
    index = place + len(words[0])
    for word in words[1:]:
        gap = index
        while index < len(text) and text[index].isspace():
            index += 1
        if index == gap or not lowered.startswith(word, index):
            return None
        index += len(word)
    if index < len(text):
        after = text[index]
        if _is_word_char(after) or after == "@":
            return None
        if after == "." and index + 1 < len(text) and _is_word_char(text[index + 1]):
            return None
    return index


def _occurrences(text: str, word: str) -> list[int]:
    """Every index where `word` starts in `text` (overlapping ones too)."""
    found: list[int] = []
    index = text.find(word)
    while index >= 0:
        found.append(index)
        index = text.find(word, index + 1)
    return found


_RANK = {kind: index for index, kind in enumerate(KINDS)}


def find_pii(
    text: str, names: Iterable[str] = (), *, keep: Iterable[str] = (), regions: Iterable[str] = PHONE_REGIONS
) -> list[Finding]:
    """Every piece of personal data in `text`, in order, none overlapping: secrets first, then
    e-mail addresses, IBANs, card numbers, phone numbers and the people's `names` (an earlier kind
    wins where two overlap, and a longer finding where one holds another).

    The findings of recent texts are kept (by a hash of the text, never the text): a message is
    redacted once per task that sends it (tier-1, tier-2, insights) and again to restore its
    quotes, and a re-run redacts the same texts again."""
    if not text:
        return []
    names, keep, regions = tuple(names), tuple(keep), tuple(regions)
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest(), names, keep, regions)
    cached = _FINDINGS.get(key)
    if cached is None:
        cached = _find_pii(text, names, keep, regions)
        _FINDINGS.put(key, cached)
    return list(cached)


def _find_pii(
    text: str, names: tuple[str, ...], keep: tuple[str, ...], regions: tuple[str, ...]
) -> tuple[Finding, ...]:
    lowered = _lowered(text)
    digits = _digit_count(text)
    candidates = [
        *_find_secrets(text, lowered),
        *_find_emails(text),
        *_find_ibans(text),
        *_find_cards(text, digits),
        *_find_phones(text, regions, digits),
        *_find_names(text, names, keep, lowered),
    ]
    # Taken spans, disjoint and sorted: a finding overlaps one iff it overlaps its neighbours there.
    starts: list[int] = []
    ends: list[int] = []
    found: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (_RANK[f.kind], -(f.end - f.start), f.start)):
        index = bisect_right(starts, finding.start)
        if index > 0 and ends[index - 1] > finding.start:
            continue
        if index < len(starts) and starts[index] < finding.end:
            continue
        starts.insert(index, finding.start)
        ends.insert(index, finding.end)
        found.append(finding)
    return tuple(sorted(found))


class _FindingsCache:
    """The findings of the latest `size` (text hash, names, keep, regions), oldest out first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[tuple[Any, ...], tuple[Finding, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> tuple[Finding, ...] | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple[Any, ...], findings: tuple[Finding, ...]) -> None:
        with self._lock:
            self._entries[key] = findings
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# Offsets and kinds only (a few dozen bytes a text): 16,384 texts cover a day's messages many times.
_FINDINGS = _FindingsCache(16_384)


@dataclass
class Redaction:
    """One message's redaction: placeholders stable across its fields, and the way back.

    `redact` each field of the message in a fixed order (the same order gives the same
    placeholders); `restore` a text the model wrote from them.
    """

    names: tuple[str, ...] = ()
    #: Words never redacted on their own (the customer's name), though inside a full name they are.
    keep: tuple[str, ...] = ()
    regions: tuple[str, ...] = PHONE_REGIONS
    #: placeholder -> original value
    values: dict[str, str] = field(default_factory=dict)
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def redact(self, text: str | None) -> str | None:
        """`text` with every finding replaced by its placeholder (None stays None)."""
        if not text:
            return text
        findings = find_pii(text, self.names, keep=self.keep, regions=self.regions)
        if not findings:
            return text
        pieces: list[str] = []
        cursor = 0
        for finding in findings:
            value = text[finding.start : finding.end]
            pieces.append(text[cursor : finding.start])
            pieces.append(self._placeholder(finding.kind, value, text))
            cursor = finding.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def _placeholder(self, kind: str, value: str, text: str) -> str:
        key = (kind, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        number = self._counts.get(kind, 0)
        while True:
            number += 1
            placeholder = f"<{kind}_{number}>"
            if placeholder not in text:  # a text that already holds this string keeps its meaning
                break
        self._counts[kind] = number
        self._by_value[key] = placeholder
        self.values[placeholder] = value
        return placeholder

    def restore(self, text: str) -> str:
        """`text` with this redaction's placeholders (also HTML-escaped ones) put back; others stay."""
        if not self.values or not text:
            return text

        def original(match: re.Match[str]) -> str:
            return self.values.get(f"<{match.group(1)}_{match.group(2)}>", match.group(0))

        return _PLACEHOLDER.sub(original, text)

    @property
    def counts(self) -> dict[str, int]:
        """Distinct values replaced, per kind."""
        result: dict[str, int] = {}
        for kind, _value in self._by_value:
            result[kind] = result.get(kind, 0) + 1
        return result


def redact_text(text: str, names: Iterable[str] = ()) -> tuple[str, Redaction]:
    """`text` redacted on its own, and its redaction (to restore what a model wrote from it)."""
    redaction = Redaction(names=tuple(names))
    return redaction.redact(text) or "", redaction


def message_people(
    author_name: str | None, author_email: str | None = None, metadata: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """The names of a message's people: its author and the participants its source recorded
    (Gong parties, Fathom speakers, invitees and recorder, Gmail display names when kept)."""
    names: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip() and "@" not in value and not value.startswith("Unknown speaker"):
            names.append(value.strip())

    add(author_name)
    if author_email and "@" in author_email:
        local = author_email.split("@", 1)[0]
        # jane.doe@ / jane_doe@: the person's name in the address, when it reads as a name.
        pieces = [p for p in re.split(r"[._-]", local) if p.isalpha() and len(p) >= 3]
        if len(pieces) >= 2:
            add(" ".join(p.capitalize() for p in pieces))
    meta = metadata or {}
    for key in ("parties", "calendar_invitees", "participants", "attendees"):
        for entry in meta.get(key) or []:
            if isinstance(entry, Mapping):
                add(entry.get("name"))
            else:
                add(entry)
    # A transcript has hundreds of turns and a few speakers: each speaker once, in order of first turn.
    speakers = (turn.get("speaker") for turn in meta.get("turns") or [] if isinstance(turn, dict | Mapping))
    for speaker in dict.fromkeys(speaker for speaker in speakers if isinstance(speaker, str)):
        add(speaker)
    recorded_by = meta.get("recorded_by")
    if isinstance(recorded_by, Mapping):
        add(recorded_by.get("name"))
    for key in ("from_name", "to_names", "cc_names"):
        value = meta.get(key)
        for entry in value if isinstance(value, list) else [value]:
            add(entry)
    return tuple(dict.fromkeys(names))


def org_redacts(settings: Mapping[str, Any] | None, default: bool) -> bool:
    """Whether an organisation redacts personal data before LLM calls: its `pii_redaction`
    setting when it has one, else `default` (HEADWAY_PII_REDACTION, on unless turned off)."""
    value = (settings or {}).get("pii_redaction")
    return default if value is None else bool(value)
