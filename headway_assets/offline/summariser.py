"""The offline per-message insight: a one-sentence summary, the sentiment and the key topics.

The summary names the customer (when known) and the message's asks: the tier-2 titles when the
pipeline passes them, else the asks the offline extractor finds, else the strongest feedback
sentence. The verb follows the message's tier-1 category ("asks for", "reports", "is frustrated
by"). Sentiment weighs the classifier's praise cues against its bug and pain cues. Topics are
product-area phrases found in the titles and text (a generic product vocabulary) plus the
product and vendor names the asks mention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from headway_assets.llm.schemas import InsightDraft, Sentiment
from headway_assets.llm.tasks import InsightInput, Tier2Input
from headway_assets.offline.classifier import Evidence, OfflineClassifier
from headway_assets.offline.extractor import AGENT_REPLY, OfflineExtractor
from headway_assets.offline.lexicon import CueCategory
from headway_assets.offline.titles import clean_sentence
from headway_assets.sources.registry import get_source, source_names

MAX_SUMMARY_WORDS: Final = 40
MAX_TITLES: Final = 3
MAX_TOPICS: Final = 5
TEXT_LIMIT: Final = 20_000
SHORT_TEXT: Final = 1_500

_VERBS: Final[dict[str, str]] = {
    "feature_request": "asks for",
    "improvement": "asks for",
    "bug_report": "reports",
    "pain_point": "is frustrated by",
    "praise": "praises",
    "question": "asks about",
    "other": "mentions",
}
# (display phrase, pattern): generic product areas, matched on the titles and the text.
_TOPICS: Final[tuple[tuple[str, str], ...]] = (
    ("single sign-on", r"\bsso\b|single sign[- ]on|\bsaml\b"),
    ("user provisioning", r"\bscim\b|provisioning"),
    ("permissions", r"permission|row[- ]level|access control|\broles?\b"),
    ("audit log", r"audit"),
    ("PDF export", r"\bpdf\b"),
    ("CSV export", r"\bcsv\b|excel"),
    ("exports", r"\bexport|download"),
    ("scheduled reports", r"scheduled reports?|report schedul|email(?:ed)? reports?|digest"),
    ("dashboards", r"dashboard"),
    ("reports", r"\breports?\b|reporting"),
    ("embedded analytics", r"\bembed|white[- ]label|iframe"),
    ("data sync", r"\bsync(?:ing|s|ed)?\b|refresh|stale"),
    ("integrations", r"integrat|connector|\bapi\b|webhook"),
    ("alerts", r"\balert|anomal|notif"),
    ("AI assistant", r"\bai\b|assistant|natural[- ]language|plain english|chatgpt|copilot"),
    ("filters", r"\bfilter"),
    ("fiscal calendar", r"fiscal"),
    ("dark mode", r"dark (?:mode|theme)|night mode"),
    ("performance", r"\bslow|performance|\bspeed|\blag|load(?:ing)? time|takes? \d+ seconds"),
    ("sharing", r"\bshar(?:e|ed|ing)\b(?! (?:my|your|the) screen)"),
    ("version history", r"version history|revert|undo"),
    ("pricing", r"pric|\bcost|expensive|\bseats?\b|licen[cs]e|per[- ]provider|invoice|billing"),
    ("time zones", r"time ?zone|daylight|clock change|\bdst\b"),
    ("SMS reminders", r"\bsms\b|text messages?"),
    ("reminders", r"remind"),
    ("appointments", r"appointment|booking|\bslots?\b"),
    ("rescheduling", r"reschedul|rebook"),
    ("recurring appointments", r"recurring|series"),
    ("waitlist", r"wait ?list"),
    ("calendar sync", r"calendar sync|outlook|google calendar|\bical\b"),
    ("calendar views", r"week view|day view|calendar view|multi-location"),
    ("patient portal", r"portal|login code"),
    ("telehealth", r"telehealth|video visit|virtual visit|\bzoom\b"),
    ("EHR integration", r"\behr\b|\bemr\b|\bepic\b|cerner|hl7|fhir"),
    ("insurance eligibility", r"insurance|eligibility"),
    ("localisation", r"language|translat|locali[sz]"),
    ("mobile app", r"mobile|\bios\b|android|iphone"),
    ("search", r"\bsearch"),
    ("onboarding", r"onboarding|getting started"),
    ("login", r"\blog ?in\b|password|locked[- ]out"),
)
_TOPIC_REGEXES: Final = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _TOPICS)
_NAME: Final = re.compile(r"\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Z]{2,6}|[A-Z][a-z]{2,})\b")
_NAME_STOP: Final = frozenset(
    [
        "The",
        "A",
        "An",
        "Our",
        "We",
        "I",
        "It",
        "This",
        "That",
        "Please",
        "Could",
        "Can",
        "Would",
        "Any",
        "Is",
        "Are",
        "Do",
        "Does",
        "Feature",
        "Request",
        "Bug",
        "Export",
        "Add",
        "Support",
        "Dashboards",
        "Dashboard",
        "Reports",
        "Report",
        "Users",
        "Staff",
        "Team",
        "Hi",
        "Hello",
        "Thanks",
        "SSO",
        "PDF",
        "CSV",
    ]
)


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


class OfflineSummariser:
    """Deterministic per-message insight: `summarise(InsightInput) -> InsightDraft`."""

    def __init__(self, classifier: OfflineClassifier | None = None) -> None:
        """Reuse `classifier` (default: a shared offline classifier)."""
        self._classifier = classifier or _classifier()
        self._extractor = OfflineExtractor(self._classifier)

    def summarise(self, item: InsightInput) -> InsightDraft:
        """One sentence naming the customer and the asks, the sentiment and 2-5 topics."""
        if not isinstance(item.text, str):
            raise TypeError(f"InsightInput.text must be str, got {type(item.text).__name__}")
        text = item.text[:TEXT_LIMIT]
        evidence = self._classifier.explain(text)
        label = self._classifier.decide(evidence)
        titles = [t.strip() for t in item.mention_titles if t and t.strip()]
        kinds: list[str] = []
        if not titles and text.strip():
            found = self._extractor.extract(Tier2Input(text, item.source, item.customer, None, ()))
            titles = [m.title for m in found.mentions]
            kinds = [m.kind for m in found.mentions]
        category: str = label.category
        if kinds and category in ("other", "question", "praise"):
            category = kinds[0]
        subject = (item.customer or "").strip() or "A customer"
        # The wording ("in Slack", "by email") comes from the source registry.
        place = get_source(item.source).place if item.source in source_names() else ""
        strongest = _strongest(evidence)
        summary = _summary(subject, place, category, titles, text, evidence_sentence=strongest)
        # Topics come from the asks; the whole text only when it is short (calls are full of chatter).
        topic_text = text if len(text) <= SHORT_TEXT else strongest
        return InsightDraft(
            summary=summary,
            sentiment=_sentiment(evidence.totals, category),
            key_topics=_topics(titles, topic_text, item.customer),
        )


def _strongest(evidence: Evidence) -> str:
    """The sentence with the strongest feedback cue (asks, bugs, complaints, praise), cleaned.

    Questions count only when nothing else does, and never small talk or an agent's reply.
    """
    best, best_score = "", 0.0
    for sentence in evidence.sentences:
        scores = sentence.scores
        score = max(scores.get(k, 0.0) for k in ("feature_request", "bug_report", "pain_point", "praise"))
        score = max(score, 0.5 * scores.get("question", 0.0)) if not sentence.is_question else score
        clean = clean_sentence(sentence.segment.clean)
        if score > best_score and scores.get("noise", 0.0) < score and not AGENT_REPLY.search(clean):
            best, best_score = clean, score
    return best if best_score >= 2.0 else ""


def _lower_first(title: str, text: str) -> str:
    """Lower-case the title's first word inside the sentence unless the text writes it as a name."""
    first = title.split(" ", 1)[0]
    if not (len(first) > 1 and first[0].isupper() and first[1:].islower()):
        return title
    if re.search(rf"(?<=[a-z,;] ){re.escape(first)}\b", text):
        return title  # capitalised mid-sentence in the message: a name ("Okta", "Slack")
    return title[0].lower() + title[1:]


def _summary(subject: str, place: str, category: str, titles: list[str], text: str, evidence_sentence: str) -> str:
    verb = _VERBS.get(category, "mentions")
    lead = f"{subject} {verb}"
    if titles:
        shown = [_lower_first(t.rstrip("."), text) for t in titles[:MAX_TITLES]]
        more = len(titles) - len(shown)
        body = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"
        if more:
            body += f" (and {more} more ask{'s' if more > 1 else ''})"
        sentence = f"{lead} {body}"
    elif evidence_sentence:
        said = "said" if place in ("on a call", "in a meeting") else "wrote"
        room = MAX_SUMMARY_WORDS - len(f"{subject} {said} {place}:".split()) - 1
        quoted = " ".join(evidence_sentence.split()[:room])
        if len(quoted) < len(evidence_sentence):
            quoted = quoted.rstrip(",;:") + " …"
        return _finish(f"{subject} {said} {place}: “{quoted}”" if place else f"{subject} {said}: “{quoted}”")
    elif text.strip():
        sentence = f"{subject} {'spoke' if place in ('on a call', 'in a meeting') else 'wrote'} about the product"
    else:
        sentence = f"{subject} sent an empty message"
    if place:
        sentence = f"{sentence} {place}"
    return _finish(sentence)


def _finish(sentence: str) -> str:
    """At most 40 words and 400 characters, ending like a sentence."""
    words = sentence.split()
    if len(words) > MAX_SUMMARY_WORDS:
        sentence = " ".join(words[: MAX_SUMMARY_WORDS - 1]).rstrip(",;:") + " …"
    sentence = sentence[:399].rstrip()
    return sentence if sentence.endswith((".", "…", "?", "!", "”")) else sentence + "."


def _sentiment(totals: Mapping[CueCategory, float], category: str) -> Sentiment:
    negative = totals.get("bug_report", 0.0) + totals.get("pain_point", 0.0)
    positive = totals.get("praise", 0.0)
    if category in ("bug_report", "pain_point") or negative > positive + 1.0:
        return "negative"
    if category == "praise" or positive > negative + 1.0:
        return "positive"
    return "neutral"


def _topics(titles: list[str], text: str, customer: str | None) -> list[str]:
    """Product-area phrases and named products, titles first, at most five."""
    topics: list[str] = []
    customer_words = {w.lower() for w in (customer or "").split()}
    sources = [*titles, text]
    for source in sources:
        for name, regex in _TOPIC_REGEXES:
            if name not in topics and regex.search(source):
                topics.append(name)
        if source is not text:  # names only from the asks: the text is full of people and places
            for found in _NAME.finditer(source):
                word = found.group(0)
                if (
                    word not in _NAME_STOP
                    and word.lower() not in customer_words
                    and word.lower() not in {t.lower() for t in topics}
                    and found.start() > 0
                ):
                    topics.append(word)
        if len(topics) >= MAX_TOPICS:
            break
    if len(topics) < 2:
        for title in titles:
            phrase = " ".join(title.split()[:4]).rstrip(".,;:").lower()
            if phrase and phrase not in topics:
                topics.append(phrase)
            if len(topics) >= 2:
                break
    return topics[:MAX_TOPICS]
