"""Content-word vocabulary shared by the offline extractor, taxonomy mapper, matcher and summariser.

`content_terms(text)` turns text into the words that say *what* an ask is about: folded,
stemmed, with stop words and request scaffolding ("could you please add") removed, generic
product synonyms merged ("download" -> "export", "single sign-on" -> "sso") and a weight per
term that says how specific it is (a product or vendor name written with a capital letter
weighs more than "dashboard", which weighs more than "team").

Everything here is general English and general SaaS product vocabulary, written by hand; no
customer, company or demo phrasing is in it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

# --- weights ---------------------------------------------------------------------------------

SPECIFIC_WEIGHT: Final = 1.6  # a capitalised or upper-case name ("Okta", "PDF", "SCIM")
CONTENT_WEIGHT: Final = 1.0
GENERIC_WEIGHT: Final = 0.35  # words that occur in asks of every kind ("team", "data", "page")

# Phrases rewritten before tokenising (applied to folded text, word-bounded). Multi-word
# product terms become one token so they count once and match their one-word synonyms.
_PHRASES: Final[tuple[tuple[str, str], ...]] = (
    (r"single[- ]sign[- ]?on", "sso"),
    (r"sign[- ]?on", "sso"),
    (r"log(?:ging)?[- ]?(?:in|on)|sign(?:ing)?[- ]in|signin", "login"),
    (r"text messages?|sms messages?|texts", "sms"),
    (r"e-?mails?", "email"),
    (r"time[- ]zones?", "timezone"),
    (r"daylight[- ]sav(?:ing|ings)(?: time)?|clock changes?|time changes?|dst", "dst"),
    (r"(?:times?|timed|timing) out|time-?outs?", "timeout"),
    (r"dark (?:theme|ui|mode)|night mode|dark[- ]mode", "darkmode"),
    (r"white[- ]label(?:ed|ing|led|ling)?", "whitelabel"),
    (r"row[- ]level", "rowlevel"),
    (r"set[- ]?up", "setup"),
    (r"sign[- ]?up", "signup"),
    (r"no[- ]shows?", "noshow"),
    (r"wait[- ]?list", "waitlist"),
    (r"double[- ]book(?:ed|ing|ings|s)?", "doublebook"),
    (r"plain english|natural[- ]language", "naturallanguage"),
    (r"version history|previous versions?|older versions?", "versionhistory"),
    (r"audit[- ]logs?|audit[- ]trails?", "auditlog"),
    (r"a lot of|lots of|a bunch of|all of|one by one|at once|at a time|in one go", " "),
    (r"multiple|several|many|batch|mass|in bulk", "bulk"),
    (r"multi[- ]?select(?:ion|ing)?", "bulk select"),
    (r"azure active directory|azure ad|entra(?: id)?", "azuread"),
    (r"google workspace|g suite|gsuite", "googleworkspace"),
)

# One-word synonyms: generic product vocabulary only. Each group's words (and their stems)
# map to the group's first word's stem.
_SYNONYM_GROUPS: Final[tuple[tuple[str, ...], ...]] = (
    ("export", "download", "downloads", "downloading", "extract"),
    ("price", "pricing", "cost", "costs", "expensive", "pay", "paying", "paid", "fee", "fees", "billing"),
    ("slow", "slowly", "slowness", "sluggish", "lag", "laggy", "lags", "speed", "performance", "perform"),
    ("alert", "notify", "notification", "notifications", "notified"),
    (
        "fail",
        "fails",
        "failing",
        "failed",
        "failure",
        "error",
        "errors",
        "broken",
        "break",
        "breaks",
        "crash",
        "crashes",
        "crashing",
    ),
    ("wrong", "incorrect"),
    (
        "custom",
        "customise",
        "customize",
        "customisable",
        "customizable",
        "configurable",
        "configure",
        "personalise",
        "personalize",
        "tailor",
        "editable",
    ),
    ("auto", "automatic", "automatically", "automated", "automate", "automation"),
    ("limit", "limits", "cap", "caps", "capped", "maximum", "max"),
    ("increase", "raise", "higher", "bigger", "larger", "lift"),
    (
        "language",
        "languages",
        "translate",
        "translation",
        "translations",
        "localise",
        "localize",
        "localisation",
        "localization",
    ),
    ("login", "password", "passwords", "signin", "lockout", "locked"),
    ("sso", "saml", "idp"),
    ("visualise", "chart", "charts", "graph", "graphs", "widget", "widgets", "visualization", "visualisation"),
    ("reminder", "reminders", "remind"),
    ("integrate", "integration", "integrations", "connector", "connectors"),
    ("color", "colour", "colours", "colors"),
    ("darkmode", "theme", "themes"),
    ("pdf", "printable", "print", "printing"),
    ("permission", "permissions", "role", "roles", "permit"),
    ("send", "sent", "sending", "post", "posting", "push", "deliver", "delivery", "delivered"),
    ("csv", "spreadsheet", "excel", "xlsx"),
    ("encoding", "garbled", "garbles", "mangled", "accented", "accents", "umlauts", "characters"),
    ("delete", "remove", "removed", "removing"),
    (
        "deprovision",
        "deprovisioning",
        "deactivate",
        "deactivated",
        "offboard",
        "offboarding",
        "revoke",
        "revoked",
        "leavers",
    ),
    ("appointment", "appointments", "booking", "bookings", "slot", "slots", "visit", "visits"),
    ("reschedule", "rescheduling", "rebook", "rebooking", "move", "moving", "moved"),
    ("recurring", "recur", "recurrence", "repeat", "repeating", "repeated"),
    (
        "anomaly",
        "anomalies",
        "deviate",
        "deviates",
        "deviation",
        "unusual",
        "outlier",
        "outliers",
        "spike",
        "spikes",
        "abnormal",
    ),
    ("duplicate", "duplicates", "duplicated"),
    ("share", "shared", "sharing"),
)

# Words that carry no topic: function words, pronouns, auxiliaries, politeness, request and
# complaint scaffolding, time words and fillers. Folded, before stemming.
_STOP_WORDS: Final[frozenset[str]] = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "yet",
        "if",
        "then",
        "than",
        "that",
        "this",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "itself",
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "we",
        "us",
        "our",
        "ours",
        "ourselves",
        "you",
        "your",
        "yours",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "theirs",
        "who",
        "whom",
        "whose",
        "which",
        "what",
        "when",
        "where",
        "why",
        "how",
        "whether",
        "am",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "ought",
        "wont",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "havent",
        "hasnt",
        "hadnt",
        "wouldnt",
        "couldnt",
        "shouldnt",
        "im",
        "ive",
        "id",
        "ill",
        "youre",
        "weve",
        "wed",
        "were",
        "theyre",
        "lets",
        "thats",
        "whats",
        "theres",
        "heres",
        "its",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "as",
        "like",
        "than",
        "over",
        "under",
        "about",
        "above",
        "below",
        "across",
        "after",
        "before",
        "between",
        "through",
        "during",
        "without",
        "within",
        "via",
        "per",
        "up",
        "down",
        "out",
        "off",
        "again",
        "further",
        "once",
        "not",
        "no",
        "yes",
        "very",
        "really",
        "just",
        "also",
        "too",
        "only",
        "even",
        "still",
        "already",
        "ever",
        "always",
        "never",
        "sometimes",
        "often",
        "quite",
        "rather",
        "pretty",
        "much",
        "more",
        "most",
        "less",
        "least",
        "lot",
        "lots",
        "some",
        "any",
        "all",
        "each",
        "every",
        "both",
        "either",
        "neither",
        "other",
        "another",
        "such",
        "same",
        "own",
        "few",
        "many",
        "several",
        "enough",
        "please",
        "pls",
        "plz",
        "kindly",
        "thanks",
        "thank",
        "thx",
        "cheers",
        "hi",
        "hey",
        "hello",
        "dear",
        "folks",
        "team",
        "guys",
        "everyone",
        "hope",
        "hoping",
        "wish",
        "wishing",
        "love",
        "like",
        "would",
        "want",
        "wanted",
        "wants",
        "need",
        "needs",
        "needed",
        "needing",
        "could",
        "able",
        "ability",
        "possible",
        "possibility",
        "option",
        "options",
        "way",
        "ways",
        "feature",
        "features",
        "request",
        "requests",
        "requested",
        "requesting",
        "suggestion",
        "suggest",
        "idea",
        "ideas",
        "add",
        "adding",
        "added",
        "include",
        "including",
        "support",
        "supporting",
        "supported",
        "supports",
        "provide",
        "providing",
        "offer",
        "offering",
        "allow",
        "allowing",
        "allows",
        "enable",
        "enabling",
        "let",
        "get",
        "getting",
        "got",
        "gets",
        "have",
        "make",
        "making",
        "made",
        "makes",
        "give",
        "giving",
        "consider",
        "considering",
        "implement",
        "implementing",
        "introduce",
        "introducing",
        "bring",
        "build",
        "great",
        "nice",
        "good",
        "awesome",
        "amazing",
        "cool",
        "helpful",
        "useful",
        "handy",
        "perfect",
        "ideal",
        "fantastic",
        "brilliant",
        "appreciate",
        "welcome",
        "happy",
        "glad",
        "sure",
        "okay",
        "ok",
        "well",
        "right",
        "thing",
        "things",
        "something",
        "anything",
        "everything",
        "nothing",
        "someone",
        "anyone",
        "everybody",
        "somebody",
        "nobody",
        "one",
        "ones",
        "plan",
        "plans",
        "planned",
        "planning",
        "roadmap",
        "chance",
        "news",
        "update",
        "eta",
        "soon",
        "someday",
        "eventually",
        "asap",
        "currently",
        "today",
        "yesterday",
        "tomorrow",
        "now",
        "recently",
        "lately",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "time",
        "times",
        "morning",
        "night",
        "weekend",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "quarter",
        "q1",
        "q2",
        "q3",
        "q4",
        "since",
        "last",
        "next",
        "ago",
        "actually",
        "basically",
        "honestly",
        "frankly",
        "literally",
        "seriously",
        "definitely",
        "probably",
        "maybe",
        "perhaps",
        "quick",
        "question",
        "quickly",
        "btw",
        "fyi",
        "fwiw",
        "imo",
        "tbh",
        "etc",
        "eg",
        "ie",
        "vs",
        "via",
        "keep",
        "keeps",
        "kept",
        "seem",
        "seems",
        "seemed",
        "looks",
        "look",
        "looked",
        "feel",
        "feels",
        "huge",
        "big",
        "small",
        "little",
        "whole",
        "entire",
        "half",
        "real",
        "e",
        "g",
    ]
)

# Words present in asks of every area: they count, but little.
_GENERIC_WORDS: Final[frozenset[str]] = frozenset(
    [
        "team",
        "user",
        "users",
        "people",
        "person",
        "customer",
        "customers",
        "client",
        "clients",
        "staff",
        "member",
        "members",
        "account",
        "accounts",
        "company",
        "org",
        "organisation",
        "organization",
        "business",
        "admin",
        "admins",
        "data",
        "page",
        "pages",
        "screen",
        "screens",
        "view",
        "app",
        "application",
        "product",
        "tool",
        "platform",
        "system",
        "service",
        "software",
        "work",
        "working",
        "works",
        "use",
        "using",
        "used",
        "set",
        "setting",
        "settings",
        "button",
        "click",
        "number",
        "numbers",
        "list",
        "lists",
        "item",
        "items",
        "file",
        "files",
        "way",
        "part",
        "area",
        "section",
        "version",
        "new",
        "old",
        "current",
        "existing",
        "better",
        "easier",
        "faster",
        "simpler",
        "different",
        "specific",
        "certain",
        "go",
        "goes",
        "going",
        "see",
        "show",
        "shows",
        "showing",
        "take",
        "takes",
        "find",
        "found",
        "try",
        "tried",
        "trying",
        "put",
        "run",
        "runs",
        "running",
        "happen",
        "happens",
        "happening",
        "issue",
        "issues",
        "problem",
        "problems",
        "bug",
        "bugs",
        "help",
        "helps",
        "helping",
        "save",
        "saves",
        "saving",
        "manage",
        "managing",
        "instead",
        "rest",
    ]
)

_SENTENCE_OPENERS: Final = frozenset('.!?:;"“(')
_WORD: Final = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_CAPITALISED: Final = re.compile(r"^(?:[A-Z][a-z]*[A-Z]|[A-Z]{2,}|[A-Z][a-z]+\d|[A-Z][\w]*)$")


@dataclass(frozen=True, slots=True)
class Term:
    """One content term: its stem (after synonyms) and how specific it is."""

    stem: str
    weight: float


@lru_cache(maxsize=65_536)  # called for every word of every text the matcher reads
def fold_word(word: str) -> str:
    """Lower-case and strip accents and apostrophes from one word."""
    word = word.lower().replace("'", "").replace("’", "")
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light English stemmer: plural, -ing, -ed, -ly, -ation, -able and final -e removed.

    Consistency matters more than readable stems: "schedule", "scheduled" and "scheduling" all
    become "schedul"; "integration", "integrate" and "integrating" become "integrat".
    """
    w = word
    if len(w) <= 3 or not w.isalpha():
        return w
    w = w.replace("iz", "is") if re.search(r"i[sz](?:e|es|ed|ing|ation|ations|able)$", w) else w
    for suffix, replacement, min_len in (
        ("ifications", "ify", 9),
        ("ification", "ify", 9),
        ("isations", "is", 7),
        ("isation", "is", 7),
        ("ations", "at", 7),
        ("ation", "at", 6),
        ("ities", "", 7),
        ("ness", "", 7),
        ("ments", "", 8),
        ("ment", "", 7),
        ("ally", "", 7),
        ("ables", "", 7),
        ("able", "", 6),
        ("ible", "", 6),
        ("ings", "", 6),
        ("ing", "", 6),
        ("ies", "y", 5),
        ("ied", "y", 5),
        ("sses", "ss", 5),
        ("shes", "sh", 5),
        ("ches", "ch", 5),
        ("xes", "x", 5),
        ("ed", "", 5),
        ("ly", "", 6),
        ("ions", "", 7),
        ("ion", "", 6),
        ("ers", "er", 5),
        ("s", "", 4),
    ):
        if w.endswith(suffix) and len(w) >= min_len:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                break
            w = w[: len(w) - len(suffix)] + replacement
            # Undouble a final consonant left by -ing/-ed ("running" -> "runn" -> "run").
            if suffix in ("ing", "ed") and len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
                w = w[:-1]
            break
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]
    return w


@lru_cache(maxsize=1)
def _phrase_regex() -> tuple[re.Pattern[str], dict[str, str]]:
    parts = []
    replacements: dict[str, str] = {}
    for index, (pattern, replacement) in enumerate(_PHRASES):
        name = f"p{index}"
        parts.append(f"(?P<{name}>{pattern})")
        replacements[name] = replacement
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE), replacements


def rewrite_phrases(text: str) -> str:
    """Replace multi-word product terms by their one-token forms (case kept for the rest)."""
    regex, replacements = _phrase_regex()

    def swap(match: re.Match[str]) -> str:
        name = match.lastgroup or ""
        replacement = replacements.get(name, match.group(0))
        # Keep the specificity signal of a name ("SSO", "Azure AD", "Single Sign-On").
        original = match.group(0)
        if replacement.strip() and original.isupper() and len(original) <= 5:
            return replacement.upper()
        if replacement.strip() and original[:1].isupper() and any(part[:1].isupper() for part in original.split()[1:]):
            return replacement[:1].upper() + replacement[1:]
        return replacement

    return regex.sub(swap, text)


def _is_specific(word: str, first: bool) -> bool:
    """A capitalised or upper-case word in the middle of a sentence names a product or vendor."""
    if not word[:1].isupper() or len(word) < 2:
        return False
    if word.isupper() and len(word) >= 2:
        return True
    if first:
        return False
    return bool(_CAPITALISED.match(word))


@lru_cache(maxsize=65_536)
def _term(stem_: str, weight: float) -> Term:
    """One shared `Term` per stem and weight (a frozen dataclass costs more to build than to find)."""
    return Term(stem_, weight)


@lru_cache(maxsize=65_536)
def _word_term(part: str, first: bool) -> tuple[str, float] | None:
    """The stem and weight of one word of a text (None: not a content word); `first`: it opens
    a sentence. A pure function of the word, cached: texts share most of their words."""
    folded = fold_word(part)
    if not folded or folded in _STOP_WORDS or folded.isdigit() or len(folded) < 2:
        return None
    stemmed = stem(folded)
    stemmed = _synonyms().get(stemmed, stemmed)
    if stemmed in _STOP_STEMS:
        return None
    if folded in _GENERIC_WORDS or stemmed in _GENERIC_STEMS:
        weight = GENERIC_WEIGHT
    elif _is_specific(part, first):
        weight = SPECIFIC_WEIGHT
    else:
        weight = CONTENT_WEIGHT
    return stemmed, weight


# Where one sentence ends and the next begins: ".", "!" or "?", one space, a word. No phrase of
# `_PHRASES` can match sentence punctuation (they are made of letters, spaces and hyphens; a test
# holds them to it), so phrases never span a break, and the word after one opens a sentence.
_SENTENCE_BREAK: Final = re.compile(r"(?<=[.!?]) (?=[^\W_])")


@lru_cache(maxsize=65_536)
def content_terms(text: str) -> tuple[Term, ...]:
    """The content terms of `text`, in order of first occurrence, each once at its highest weight.

    Computed sentence by sentence (each sentence's terms cached: texts the catalogue builds repeat
    the same sentences in many combinations), with exactly the terms and weights of the whole.
    """
    sentences = _SENTENCE_BREAK.split(text)
    if len(sentences) == 1:
        return _sentence_terms(text)[1]
    best: dict[str, float] = {}
    for index, sentence in enumerate(sentences):
        opens, terms = _sentence_terms(sentence)
        if index and not opens:  # a phrase rewrote its first word away: not a plain sentence
            return _terms(rewrite_phrases(text))
        for term in terms:
            weight = best.get(term.stem)
            if weight is None or term.weight > weight:
                best[term.stem] = term.weight
    return tuple(_term(s, w) for s, w in best.items())


@lru_cache(maxsize=65_536)
def _sentence_terms(sentence: str) -> tuple[bool, tuple[Term, ...]]:
    """A sentence's content terms, and whether its first word still opens it once phrases are
    rewritten (then, after a break, it is judged as the first word of a sentence, as here)."""
    rewritten = rewrite_phrases(sentence)
    return _WORD.match(rewritten) is not None, _terms(rewritten)


def _terms(rewritten: str) -> tuple[Term, ...]:
    """`content_terms` of a text whose phrases are rewritten already."""
    best: dict[str, float] = {}
    sentence_start = True
    for match in _WORD.finditer(rewritten):
        raw = match.group(0)
        preceding = rewritten[max(0, match.start() - 2) : match.start()].rstrip()
        first = sentence_start or not preceding or preceding[-1] in _SENTENCE_OPENERS
        sentence_start = False
        for part in raw.split("-") if "-" in raw and raw.lower() not in _HYPHEN_KEEP else [raw]:
            found = _word_term(part, first)
            if found is None:
                continue
            stemmed, weight = found
            # A dict keeps insertion order: the terms come out in order of first occurrence.
            if stemmed not in best or weight > best[stemmed]:
                best[stemmed] = weight
    return tuple(_term(s, w) for s, w in best.items())


def term_weights(text: str) -> dict[str, float]:
    """`content_terms` as a {stem: weight} mapping."""
    return {term.stem: term.weight for term in content_terms(text)}


_HYPHEN_KEEP: Final[frozenset[str]] = frozenset()


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, str]:
    """{stem of a synonym: stem of its group's first word}."""
    mapping: dict[str, str] = {}
    for group in _SYNONYM_GROUPS:
        canonical = stem(group[0])
        for word in group:
            mapping.setdefault(stem(word), canonical)
    return mapping


_STOP_STEMS: Final[frozenset[str]] = frozenset(stem(w) for w in _STOP_WORDS if len(w) > 3)
_GENERIC_STEMS: Final[frozenset[str]] = frozenset(stem(w) for w in _GENERIC_WORDS)


# Nouns that name a part of a software product: an ask that names none of them (and no
# taxonomy area or product name) is usually small talk ("people lost trust in the numbers").
_PRODUCT_NOUN_TEXT: Final = """
    dashboard report export import chart filter search alert email integration api webhook login sso password
    setting settings permission page screen view button field column table app mobile calendar appointment
    reminder sms sync upload template link share workflow form invoice price seat licence license plan mode
    darkmode layout editor widget connector warehouse database query pipeline log auditlog audit role workspace
    project task message comment tag label folder file document pdf csv notification account profile portal
    timezone dst version versionhistory history schedule scheduling booking integration plugin extension
    browser interface ui ux feature menu sidebar toolbar tab panel modal popup notification inbox feed
    summary metric kpi graph visualisation embed whitelabel branding theme font colour color language
    translation data refresh load loading speed performance crash error bug timeout upload download
    checkout payment billing subscription order invoice cart onboarding tutorial docs documentation
    waitlist doublebook recurring series slot
"""
PRODUCT_NOUNS: Final[frozenset[str]] = frozenset(
    term.stem for word in _PRODUCT_NOUN_TEXT.split() for term in content_terms(word)
)


# Terms that are not synonyms but point to the same capability often enough to count half:
# generic SaaS knowledge (identity providers are how single sign-on is asked for, a timeout is
# how a sync fails). Pairs of canonical stems.
_RELATED_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    ("sso", "login"),
    ("sso", "okta"),
    ("sso", "azuread"),
    ("sso", "googleworkspace"),
    ("sso", "onelogin"),
    ("login", "okta"),
    ("login", "azuread"),
    ("timeout", "fail"),
    ("timeout", "slow"),
    ("sync", "refresh"),
    ("alert", "anomaly"),
    ("reminder", "sms"),
    ("permission", "access"),
    ("bulk", "select"),
    ("provision", "scim"),
    ("deprovision", "scim"),
    ("deprovision", "provision"),
)


@lru_cache(maxsize=1)
def related_terms() -> dict[str, frozenset[str]]:
    """{stem: stems related to it} from `_RELATED_PAIRS` (canonical stems, both directions)."""
    related: dict[str, set[str]] = {}
    for left, right in _RELATED_PAIRS:
        a = _canonical(left)
        b = _canonical(right)
        related.setdefault(a, set()).add(b)
        related.setdefault(b, set()).add(a)
    return {stem_: frozenset(values) for stem_, values in related.items()}


def _canonical(word: str) -> str:
    terms = content_terms(word)
    return terms[0].stem if terms else word


# --- matching across languages and wordings ------------------------------------------------------
# Used by the catalogue matcher only (the tier-1 classifier reads `content_terms` as before).

# Spanish, Portuguese, French and German function words: without them a non-English ask's
# content is its product words.
_FOREIGN_STOP_TEXT: Final = """
    el la los las un una unos unas del al de en por para con sin que se su sus lo le les y o e muy mas pero
    como cuando donde desde hasta nuestro nuestra nuestros nuestras nos es son esta estan hay ser tener
    tenemos queremos necesitamos podemos puede pueden seria gustaria favor luego muchos muchas mucho cada
    ya no si sobre entre todo todos todas otro otra este esto eso
    o a os as um uma do da dos das no na nos nas em com sem ao aos pelo pela nosso nossa vocês voces tem
    temos queremos precisamos podem seria muito muitos mais cada ja nao sim mandar ver quanto consigo
    le la les un une des du de au aux et ou en dans pour par avec sans que qui est sont nous notre nos vous
    votre ce cette ces il elle ils ne pas tres faudrait pouvoir serait quand
    der die das den dem des ein eine einen einem einer und oder in im mit fur von vom zu zum zur auf an
    am bei aus ist sind wird werden wir uns unser unsere unseren ich sie es nicht kein keine auch noch
    schon sehr wenn dass gibt konnen konnten sollte sollten mussen brauchen wollen wurde ware wichtig
    dringend sonst durfen weiter nutzen viele kaum bitte beispiel zum jeden uhr vorher wer wann was
    welche gemacht uber
"""
FOREIGN_STOP_WORDS: Final[frozenset[str]] = frozenset(_FOREIGN_STOP_TEXT.split())

# Product words of asks in es / pt / fr / de, folded, to an English word the vocabulary knows.
# General SaaS vocabulary, one line per concept.
_FOREIGN_TERM_ROWS: Final[tuple[tuple[str, str], ...]] = (
    ("reminder", "recordatorio recordatorios lembrete lembretes rappel rappels erinnerung erinnerungen"),
    ("appointment", "cita citas consulta consultas marcacao marcacoes rendez-vous rdv termin termine"),
    ("slot", "hueco huecos horario horarios creneau creneaux zeitfenster"),
    ("waitlist", "espera attente warteliste"),
    ("cancel", "cancelado cancelada cancelar cancela annule annulee annuler annulation storniert absage"),
    ("patient", "paciente pacientes patients patienten patientinnen"),
    ("invoice", "factura facturas fatura faturas facture factures rechnung rechnungen"),
    ("revenue", "faturacao facturacion ingresos receita chiffre umsatz faturou facturo"),
    ("payment", "pago pagos pagamento pagamentos paiement paiements zahlung zahlungen bezahlung"),
    ("deposit", "deposito sinal senal acompte anzahlung kaution"),
    ("refund", "reembolso reembolsos remboursement erstattung ruckerstattung"),
    ("insurance", "seguro seguros assurance mutuelle versicherung krankenkasse"),
    ("claim", "reclamacion sinistre abrechnung"),
    ("report", "informe informes relatorio relatorios rapport rapports bericht berichte auswertung"),
    ("dashboard", "tablero tableros painel paineis tableau tableaux"),
    ("export", "exportar exporte exporter exportieren export"),
    ("import", "importar importer importieren"),
    ("send", "enviar envie envoyer senden schicken verschicken mandar"),
    ("arrive", "llega llegan llego chega chegam arrive arrivent ankommen kommt kommen"),
    ("refresh", "actualizar actualicen actualizacion atualizar atualizacao actualiser mise"),
    ("refresh", "aktualisieren aktualisierung"),
    ("hour", "hora horas heure heures stunde stunden stundlich"),
    ("day", "dia dias jour jours taglich"),
    ("timezone", "zeitzone fuseau"),
    ("wrong", "incorrecto incorrecta errado errada incorrect falsch falsche"),
    ("integration", "integracion integracao integracoes anbindung schnittstelle"),
    ("calendar", "calendario agenda kalender"),
    ("message", "mensaje mensajes mensagem mensagens message messages nachricht nachrichten chat chatear"),
    ("reply", "responder respondan responda repondre antworten antwort"),
    ("form", "formulario formularios formulaire formulaires formular formulare fragebogen anamnesebogen"),
    ("online", "linea ligne"),
    ("book", "reservar agendar marcar reserver buchen gebucht"),
    ("double", "doble doppelt double duplo"),
    ("recurring", "recurrente recurrentes recorrente recorrentes recurrent recurrents"),
    ("recurring", "serie serien serientermine wiederkehrend"),
    ("permission", "permiso permisos permissao permissoes droit droits rechte berechtigung berechtigungen"),
    ("access", "acceso acesso acces zugriff zugang"),
    ("reception", "recepcion recepcao accueil empfang empfangspersonal"),
    ("role", "rol papel rolle"),
    ("user", "usuario usuarios utilisateur utilisateurs benutzer nutzer"),
    ("row", "fila filas linha linhas zeile zeilen zeilenweise"),
    ("restrict", "restringir limitar restreindre einschranken beschranken"),
    ("log", "registro protocolo journal protokoll"),
    ("change", "cambio cambios alteracao alteracoes changement changements modification modifications"),
    ("change", "anderung anderungen"),
    ("translate", "traducir traduzir traduire ubersetzen ubersetzung"),
    ("interface", "interfaz interface oberflache benutzeroberflache"),
    ("german", "aleman alemao allemand deutsch"),
    ("language", "idioma lingua langue sprache"),
    ("slow", "lento lenta lentos lent lente langsam"),
    ("load", "cargar carga carregar charger laden"),
    ("logo", "logotipo"),
    ("location", "sede sedes sucursal local standort standorte site sites filiale"),
    ("practitioner", "profesional profissional profissionais praticien medecin arzt arztin therapeut"),
    ("retry", "reintentar reenviar tentar renvoyer erneut"),
    ("email", "correo courriel"),
    ("price", "precio precos preco prix preis"),
    ("seat", "licencia licencias licenca licence lizenz lizenzen"),
    ("login", "contrasena senha mot passe passwort anmeldung"),
    ("offer", "proponer proposer propor anbieten"),
    ("list", "lista liste"),
    ("connector", "conector conectar connecteur konnektor"),
    ("data", "datos dados donnees daten"),
    ("sync", "sincronizar sincronizacion sincronizacao synchroniser synchronisieren synchronisierung"),
)


@lru_cache(maxsize=1)
def _foreign_terms() -> dict[str, str]:
    table: dict[str, str] = {}
    for english, words in _FOREIGN_TERM_ROWS:
        for word in words.split():
            table.setdefault(fold_word(word), english)
    return table


# Complaint and symptom words -> the capability they are usually asked as, and capability words
# -> their neighbours. The matcher adds them to an ask's terms at a lower weight: "reminders keep
# failing" then shares "retry" and "deliver" with "retry failed reminders". Generic SaaS
# knowledge, by stem.
_CONCEPT_ROWS: Final[tuple[tuple[str, str], ...]] = (
    ("fail", "retry deliver"),
    ("retry", "fail deliver"),
    ("bounce", "fail deliver"),
    ("arrive", "deliver"),
    ("deliver", "arrive"),
    ("forget", "login"),
    ("lockout", "login"),
    ("reset", "login"),
    ("login", "sso"),
    ("slow", "load speed"),
    ("load", "speed slow"),
    ("spinner", "load slow"),
    ("crawl", "slow load"),
    ("wait", "slow"),
    ("stale", "refresh sync"),
    ("old", "refresh sync"),
    ("outdated", "refresh sync"),
    ("hourly", "refresh hour"),
    ("minute", "refresh"),
    ("refresh", "sync"),
    ("manual", "automatic"),
    ("hand", "automatic manual"),
    ("screenshot", "export pdf"),
    ("print", "export pdf"),
    ("printable", "export pdf"),
    ("truncat", "limit"),
    ("cut", "limit"),
    ("row", "limit"),
    ("missing", "limit"),
    ("edit", "permission"),
    ("view", "permission"),
    ("viewer", "permission role"),
    ("readonly", "permission role"),
    ("restrict", "permission"),
    ("access", "permission"),
    ("deleted", "auditlog"),
    ("who", "auditlog"),
    ("history", "auditlog"),
    ("leav", "deprovision"),
    ("left", "deprovision"),
    ("employe", "user"),
    ("utc", "timezone"),
    ("local", "timezone"),
    ("english", "language translate"),
    ("german", "language translate"),
    ("french", "language translate"),
    ("spanish", "language translate"),
    ("twice", "double duplicate doublebook"),
    ("doublebook", "double duplicate"),
    ("missed", "noshow"),
    ("licence", "seat"),
    ("license", "seat"),
    ("free", "price"),
    ("cheap", "price"),
    ("cheaper", "price"),
    ("read", "view"),
    ("log", "auditlog history"),
    ("auditlog", "history"),
    ("same", "double"),
    ("phone", "online"),
    ("call", "online"),
    ("website", "online"),
    ("paper", "form online"),
    ("fax", "electronic claim"),
    ("cancel", "waitlist"),
    ("empty", "cancel"),
    ("branding", "logo"),
    ("generic", "branding logo"),
    ("cover", "insurance"),
    ("noshow", "deposit reminder"),
    ("card", "payment deposit"),
    ("fee", "payment"),
    ("stripe", "payment"),
    ("reply", "message"),
    ("answer", "reply message"),
    ("inbox", "message reply"),
    ("excel", "spreadsheet"),
    ("spreadsheet", "export"),
    ("bill", "invoice"),
    ("budget", "invoice"),
    ("owe", "invoice"),
    ("silo", "join"),
    ("combine", "join"),
    ("blend", "join"),
    ("formula", "calculat metric"),
    ("calculat", "formula metric"),
    ("weekly", "recurring"),
    ("every", "recurring"),
    ("site", "location"),
    ("clinic", "location"),
)


@lru_cache(maxsize=1)
def concept_terms() -> dict[str, tuple[str, ...]]:
    """{canonical stem: canonical stems of the capabilities and symptoms it points to}."""
    table: dict[str, tuple[str, ...]] = {}
    for word, concepts in _CONCEPT_ROWS:
        key = _canonical(word)
        extra = tuple(dict.fromkeys(_canonical(c) for c in concepts.split()))
        table[key] = tuple(dict.fromkeys(table.get(key, ()) + extra))
        if word != key:
            table.setdefault(word, table[key])
    return table


_TOKEN: Final = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


_ELISION: Final = re.compile(r"^(?:[ldjcmnst]|qu)['’]", re.IGNORECASE)


@lru_cache(maxsize=65_536)
def _english_word(word: str) -> str:
    """One word of `english_text`: its English form, "" for a foreign function word, else itself."""
    foreign = _foreign_terms()
    folded = fold_word(_ELISION.sub("", word) if "'" in word or "’" in word else word)
    if folded in foreign:
        return foreign[folded]
    if folded in FOREIGN_STOP_WORDS and folded not in _STOP_WORDS:
        return ""
    return word


@lru_cache(maxsize=65_536)
def english_text(text: str) -> str:
    """`text` with common es / pt / fr / de product words in English and their function words gone."""
    sentences = _SENTENCE_BREAK.split(text)
    if len(sentences) > 1:  # word by word: the same sentence by sentence (each cached)
        return " ".join(map(english_text, sentences))
    return _TOKEN.sub(lambda match: _english_word(match.group(0)), text)
