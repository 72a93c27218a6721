"""The offline tier-2 extractor: the asks in one message, as structured mentions.

1. The tier-1 classifier's per-sentence evidence says which sentences carry a feature request,
   a bug or a pain point, and how strongly. Sentences also score for being about the product
   (they name something in the organisation's taxonomy) and against being logistics, small
   talk or a support agent's reply ("logged it as a feature request", "can we make it 1pm?").
2. Each ask sentence becomes a mention: a canonical title (`titles.make_title`), the cleaned
   sentence as description, the reason / purpose clauses (or a supporting neighbour sentence)
   as problem statement / desired outcome, kind, urgency and sentiment from cue words, theme
   and sub-theme from `taxonomy_map`, and an evidence quote that is a slice of the original
   text (one sentence, plus the next one when it explains the ask).
3. Repeats of the same ask within the message are merged (the matcher decides "same").
4. The organisation's listed competitors the text names, with a context (`competitors.py`).

Deterministic, no network; any language goes in, English gets the best titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Final

from headway_assets.llm.schemas import MentionDraft, MentionExtraction, MentionKind, Sentiment, Urgency
from headway_assets.llm.tasks import Tier2Input
from headway_assets.offline.classifier import OfflineClassifier, SentenceEvidence
from headway_assets.offline.competitors import find_competitor_mentions
from headway_assets.offline.matcher import similarity
from headway_assets.offline.taxonomy_map import TaxonomyMapper, mapper_for
from headway_assets.offline.titles import ask_title, clean_sentence, make_title, strip_lead_in, strip_openers, unquote
from headway_assets.offline.vocab import PRODUCT_NOUNS, content_terms

MAX_MENTIONS: Final = 8
QUOTE_MIN: Final = 8
QUOTE_MAX: Final = 600
ASK_THRESHOLD: Final = 2.5  # sentence score (cues + topic bonus - penalties) that makes an ask
MIN_CUE: Final = 1.4  # the sentence's own ask cues must reach this, whatever the bonuses
TOPIC_BONUS_CAP: Final = 1.0
MERGE_SIMILARITY: Final = 0.6
MERGE_SIMILARITY_ACROSS: Final = 0.85
CAPABILITY_CUE: Final = 2.0
NEED_CUE: Final = 2.5
LOGISTICS_PENALTY: Final = 2.0
NO_ANCHOR_PENALTY: Final = 1.0
ASK_KINDS: Final = ("feature_request", "bug_report", "pain_point")

_FLAGS: Final = re.IGNORECASE
# A support agent answering, a CSM logging feedback, or a vendor talking roadmap: not an ask.
# Public: the summariser skips the same sentences.
AGENT_REPLY: Final = re.compile(
    r"\b(?:let me (?:see|check|look|find out|get back|dig|loop|pass|share|show)|i(?:'ll|’ll| will) (?:check|look"
    r"|follow up|get back|share|send|pass|log|file|raise|add|loop|ask|flag|make sure|update)|we(?:'ll|’ll| will)"
    r" (?:look into|investigate|get back|keep you posted|follow up|take a look|fix|prioriti[sz]e)|(?:logged|filed"
    r"|filing|logging|raised|tracked|tracking|added|adding) (?:it |this |that )?(?:as|to|in|on|a|an|the|under)\b"
    r"|thanks for (?:flagging|reporting|the feedback|raising|letting|sharing|the report|the heads up)|i can reproduce"
    r"|(?:re)?produced (?:it|this|on)|fix (?:is )?(?:coming|shipped|deployed|released|going out)|(?:we|i) hear you"
    r"|good question|workaround|walk you through|on your (?:wish ?list|mind|radar)|any (?:other |more )?feedback"
    r"|passed (?:this|it|that) (?:on|along) to|linked (?:it|this) to your|(?:to|with) (?:our|the) product team"
    r"|reaching out|forward (?:the|this|it) (?:questionnaire|to)|pull (?:that|it|this) up|can you hear me"
    r"|(?:we(?:'re|’re| are)|the team is|engineering is|we have been|we've been) (?:focused|working|looking)"
    r" (?:on|into)|sorry (?:it's|it has|for|about|to hear)|i appreciate you|appreciate (?:the|your) (?:patience"
    r"|feedback)|known issue|is on our roadmap|it's on the roadmap|that's fair|totally fair|makes sense)\b",
    _FLAGS,
)
# Meeting logistics, commercial process and onboarding chatter.
_LOGISTICS: Final = re.compile(
    r"\b(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)|recap|agenda|calendar invite|invite|follow[- ]up|next steps|slides?"
    r"|deck|on ?board|onboard(?:ing)? (?:the|our|more|session)|training session"
    r"|trial|pilot|beta|proposal|quote|invoice|purchase order|budget|procurement|sign(?:ed)? the contract"
    r"|talk (?:to|with)|speak (?:to|with)|chat (?:to|with)|meet (?:with|up)|hop on a call|jump on a call|the call"
    r"|this call|next call|the meeting|this meeting|reschedule (?:the|our) (?:call|meeting)|lunch|coffee"
    r"|decide before|time for (?:a couple of )?questions|practical stuff|price increase|discount|for context"
    r"|(?:sharing|share|see) my screen|my manager|annual (?:plan|contract|commitment|prepay)|involved in the decision"
    r"|decision[- ]makers?|sign[- ]off|hang on|hold on|one sec|bear with me)\b",
    _FLAGS,
)
_CRITICAL: Final = re.compile(
    r"\b(?:outage|(?:is|are|went|was) (?:completely )?down\b|down for (?:everyone|all|everybody)|data loss|lost (?:all "
    r"|some )?(?:of )?(?:our |the )?data|"
    r"(?:will|would|might|may|could|going to|gonna|about to|likely to|at risk to) churn|churn(?:ing)? (?:to|over to)"
    r"|cancel (?:our|the) (?:contract|subscription|account)|switch(?:ing)? "
    r"(?:to|vendors)|(?:other|alternative|competing) (?:vendors|tools|products)|deal ?breaker|lose the deal"
    r"|(?:won't|will not|not going to) renew|production is down|nothing works|completely broken|security incident)\b",
    _FLAGS,
)
_HIGH: Final = re.compile(
    r"\b(?:urgent|urgently|asap|as soon as possible|blocker|blocking|blocked|block(?:s)? (?:us|our)|critical|can't"
    r"|cannot|can not|unable to|renewal|contract|deal|must[- ]have|a must|showstopper|every (?:day|morning|week)"
    r"|all (?:our |of our )?users|nobody can|no one can|escalat\w*|serious|severe|huge|stopping|compliance risk"
    r"|won't approve|dringend|urgente|bloquant|important for us|top priority|high priority)\b",
    _FLAGS,
)
_LOW: Final = re.compile(
    r"\b(?:nice to have|nice-to-have|would be nice|minor|small thing|no rush|eventually|someday|at some point"
    r"|low priority|not urgent|just a thought|cosmetic|not a big deal|when you get a chance)\b",
    _FLAGS,
)
_NEGATIVE: Final = re.compile(
    r"\b(?:frustrat\w*|annoy\w*|terrible|awful|painful|pain|hate|waste|wasting|tedious|brutal|ridiculous|horrible"
    r"|useless|disappoint\w*|unacceptable|embarrassing|angry|upset|struggl\w*|tough|hard to|can't|cannot|broken"
    r"|fail\w*|error|slow|worse|problem|issue|complain\w*|buried|lose|losing|lost)\b",
    _FLAGS,
)
_POSITIVE: Final = re.compile(
    r"\b(?:love (?:the|it|how|that|using)|great job|works (?:great|well|perfectly)|really (?:like|enjoy)"
    r"|fantastic|amazing|thrilled|delighted|happy with)\b",
    _FLAGS,
)
_IMPROVEMENT: Final = re.compile(
    r"\b(?:improve\w*|better|faster|easier|simpler|clearer|quicker|smoother|more (?:\w+ )?(?:flexible|control|options"
    r"|granular|room)|increase\w*|raise|higher|bigger|larger|extend\w*|custom\w*|configurable|change (?:the|how)"
    r"|tweak\w*|redesign\w*|speed up|rework|revamp|overhaul|less cluttered|streamline\w*|limit)\b",
    _FLAGS,
)
_CAPABILITY_QUESTION: Final = re.compile(
    r"^\W*(?:(?:can|could) (?:we|i|you|users|admins|one)\b|is (?:there|it possible)\b|are there\b"
    r"|(?:do|does) (?:you|it|\w+) (?:support|have|offer|allow|integrate|work with)\b|any way\b"
    r"|will (?:you|it|there)\b)",
    _FLAGS,
)
_SPEAKER_LINE: Final = re.compile(
    r"(?m)^[ \t]*(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?\)?\]?[ \t]*[-–]?[ \t]*)?"
    # A speaker's name, or the placeholder redaction put in its place ("<PERSON_1>: ...").
    r"(?:<PERSON_\d+>|[A-Z][\w.'’-]*(?:[ \t][A-Z][\w.'’-]*){0,3})"
    r"[ \t]*(?:\(\d{1,2}:\d{2}(?::\d{2})?\))?:[ \t]"
)
_ENGLISH_TEXT: Final = (
    "the a an and or to of in on for with is are was were be it this that we i you our my your can could would"
    " please not no have has do does at by from as so but if when there what how"
)
_ENGLISH_WORDS: Final = frozenset(_ENGLISH_TEXT.split())
_ANAPHORIC_OPENER: Final = re.compile(
    r"^\W*(?:it|this|that)(?:'s|’s| is| was| would| makes| has been| will| really)\b", _FLAGS
)
_NEED: Final = re.compile(
    r"^\W*(?:we|i)(?:'d|’d| would)? (?:really |badly |urgently |also |still |definitely |absolutely )?(?:need|want"
    r"|require)s? (?!to (?:talk|speak|meet|decide|know|understand|see if|check|make sure|get back|think))"
    r"|\b(?:is a must|must[- ]have|is a blocker|is a deal ?breaker|is a hard requirement)\b"
    # "Dark mode please!": a bare thing asked for.
    r"|^\W*(?:[\w'-]+\s+){1,5}(?:please|pls|plz)\b\W*$"
    # "If X is not there by our renewal we will switch": an ask with a churn threat.
    r"|\b(?:if|unless)\b.{3,120}\b(?:we(?:'ll|’ll| will| would| are going to)|going to) (?:have to )?(?:switch|move"
    r"|churn|cancel|leave|look elsewhere|look at other)",
    _FLAGS,
)
_WH_QUESTION: Final = re.compile(r"^\W*(?:what|how|who|where|when|which|whose)\b", _FLAGS)
_ANAPHORA: Final = re.compile(r"\b(?:it|this|that|one|them|these|those)\b", _FLAGS)
# Words of a failure: a sentence labelled a bug without any of them is rarely a defect report.
_SYMPTOM: Final = re.compile(
    r"\b(?:fail\w*|errors?|broken|break\w*|crash\w*|bugs?|wrong|incorrect|not|no longer|never|cannot|can't|won't"
    r"|doesn't|don't|isn't|aren't|didn't|stopp?\w*|stuck|hang\w*|freez\w*|frozen|lost|los(?:e|es|ing)|missing"
    r"|disappear\w*|reset\w*|drop\w*|duplicat\w*|twice|late|delay\w*|slow\w*|timed? ?out|times? out|timeout\w*"
    r"|blank|empty|shift\w*|garbl\w*|off by|instead of|again|issue|problem|glitch\w*|weird|strange|odd|nothing"
    r"|only|still|keeps?|takes? \d+|overwr\w*|locked)\b",
    _FLAGS,
)
_OUTCOME_SENTENCE: Final = re.compile(
    r"\b(?:should|expected|supposed to|ideally|the goal is|we want to be able to|so that|in order to)\b", _FLAGS
)


@dataclass(frozen=True, slots=True)
class _Pick:
    """A sentence chosen as an ask: strength, a kind forced by its form, the sentence naming it."""

    strength: float
    kind: MentionKind | None
    first: int


@dataclass(slots=True)
class _Draft:
    """A mention under construction, with what merging needs."""

    index: int
    strength: float
    title: str
    description: str
    problem: str | None
    outcome: str | None
    kind: MentionKind
    urgency: Urgency
    sentiment: Sentiment
    theme: str | None
    sub_theme: str | None
    quote_start: int
    quote_end: int
    merged: list[int] = field(default_factory=list)


_URGENCY_RANK: Final[dict[str, int]] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_KIND_RANK: Final[dict[str, int]] = {"feature_request": 0, "improvement": 0, "bug_report": 1, "pain_point": 2}


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


class OfflineExtractor:
    """Deterministic tier-2 extraction: `extract(Tier2Input) -> MentionExtraction`."""

    def __init__(self, classifier: OfflineClassifier | None = None, *, use_keyword_files: bool = True) -> None:
        """Reuse `classifier` (default: a shared offline classifier); keywords from taxonomy files unless disabled."""
        self._classifier = classifier or _classifier()
        self._use_keyword_files = use_keyword_files

    def extract(self, item: Tier2Input) -> MentionExtraction:
        """Every distinct ask in `item.text` (at most 8), in text order."""
        text = item.text
        if not isinstance(text, str):
            raise TypeError(f"Tier2Input.text must be str, got {type(text).__name__}")
        if not text.strip():
            return MentionExtraction(mentions=[])
        competitors = find_competitor_mentions(text, item.competitors)
        mapper = mapper_for(tuple(item.taxonomy), self._use_keyword_files)
        evidence = self._classifier.explain(text)
        sentences = evidence.sentences
        names = _customer_names(item.customer)
        drafts: list[_Draft] = []
        transcript = is_transcript(text)
        for index in range(len(sentences)):
            pick = self._pick(sentences, index, text, mapper, transcript)
            if pick is None or pick.strength < ASK_THRESHOLD:
                continue
            draft = self._draft(index, pick, sentences, text, item, mapper, names, transcript)
            if draft is not None:
                drafts.append(draft)
        merged = _merge(drafts)
        kept = sorted(sorted(merged, key=lambda d: -d.strength)[:MAX_MENTIONS], key=lambda d: d.index)
        return MentionExtraction(mentions=[_to_model(d, text) for d in kept], competitors=competitors)

    # -- sentence selection ----------------------------------------------------------------
    def _pick(
        self, sentences: list[SentenceEvidence], index: int, text: str, mapper: TaxonomyMapper, transcript: bool = False
    ) -> _Pick | None:
        """Whether sentence `index` carries an ask, how strongly, and which sentence names it.

        In call transcripts questions are mostly how-tos ("can we control who sees which
        dashboards?"), so there a question is not read as an ask unless its cues say so.
        """
        sentence = sentences[index]
        if sentence.segment.kind == "heading":
            return None
        scores = sentence.scores
        cue = max(scores.get(kind, 0.0) for kind in ASK_KINDS)
        kind: MentionKind | None = None
        clean = clean_sentence(sentence.segment.clean)
        body = strip_openers(strip_lead_in(unquote(clean)))
        if cue < NEED_CUE and _NEED.search(body):
            # "We need SSO with Azure AD": a bare need is an ask when it names the product (below).
            cue, kind = NEED_CUE, "feature_request"
        elif transcript and sentence.is_question and _WH_QUESTION.match(body):
            return None  # "What happens today when something goes wrong?": discovery, not an ask
        elif not transcript and sentence.is_question and _CAPABILITY_QUESTION.search(body) and cue < CAPABILITY_CUE:
            # "Can we edit the wording of the reminders?": a capability asked about is an ask
            # when it names something in the product (checked below through the topic score).
            cue, kind = CAPABILITY_CUE, "feature_request"
        if cue < MIN_CUE or len(clean) < 6:
            return None
        if AGENT_REPLY.search(clean):
            return None
        first = index
        terms = content_terms(clean)
        topical = sum(term.weight for term in terms)
        if topical < 1.0 or _ANAPHORIC_OPENER.match(clean):
            # "If not, please add it." / "It's tedious.": about what the previous sentence named.
            previous = _previous_in_paragraph(sentences, index, text)
            previous_clean = clean_sentence(previous.segment.clean) if previous is not None else ""
            previous_terms = content_terms(previous_clean)
            if (
                previous is not None
                and _ANAPHORA.search(clean)
                and _can_lead(previous, transcript)
                and sum(term.weight for term in previous_terms) >= 1.0
                and not AGENT_REPLY.search(previous_clean)
            ):
                clean, terms, first = f"{previous_clean} {clean}", previous_terms + terms, index - 1
            elif topical < 1.0:
                return None
        topic = max(mapper.scores(clean).values(), default=0.0) if mapper.nodes else 0.0
        bonus = min(TOPIC_BONUS_CAP, 0.5 * topic)
        # Specific names ("Okta", "PDF") mark a concrete ask even without a taxonomy match.
        if any(term.weight > 1.0 for term in terms):
            bonus = max(bonus, 0.5)
        if kind is not None and bonus < 0.5:
            return None  # a question about nothing the product has: a how-to, not an ask
        # Greetings and logistics outweighing the ask; a product's own vocabulary ("reschedule"
        # in a scheduling product) can look like logistics, so the topic bonus counts for the ask.
        if scores.get("noise", 0.0) >= cue + bonus:
            return None
        penalty = LOGISTICS_PENALTY if _LOGISTICS.search(clean) else 0.0
        if scores.get("praise", 0.0) > cue + 1.0 or (sentence.is_question and scores.get("question", 0.0) > cue + 2.5):
            penalty += 1.0  # praise or a plain how-do-I question outweighs the ask cues
        bug = scores.get("bug_report", 0.0)
        if kind is None and bug >= cue and not _SYMPTOM.search(clean):
            penalty += 1.0  # a "bug" with no failure in it ("I see the green check mark")
        if bonus < 0.5 and _looks_english(clean) and not any(term.stem in PRODUCT_NOUNS for term in terms):
            penalty += NO_ANCHOR_PENALTY  # nothing of the product named: "people lost trust in the numbers"
        return _Pick(strength=cue + bonus - penalty, kind=kind, first=first)

    # -- building one mention --------------------------------------------------------------
    def _draft(
        self,
        index: int,
        pick: _Pick,
        sentences: list[SentenceEvidence],
        text: str,
        item: Tier2Input,
        mapper: TaxonomyMapper,
        names: tuple[str, ...],
        transcript: bool = False,
    ) -> _Draft | None:
        sentence = sentences[index]
        start, end = _quote_span(text, sentence)
        fragment = start == 0 and text[:1].isalnum() and text[:1].islower()
        if fragment:
            # A chunk of a long message can start in the middle of a word: skip the fragment.
            space = text.find(" ", 0, end)
            start = space + 1 if space != -1 else start
        if pick.first != index:
            start = _quote_span(text, sentences[pick.first])[0]
        if end - start < QUOTE_MIN:
            return None
        multi = pick.first != index or fragment or "\n" in sentence.segment.text
        raw = text[start:end] if multi else sentence.segment.clean
        # The description is what was said, not who said it: a transcript's speaker labels
        # ("<PERSON_1>: ", "Dana Kim: ") stay in the verbatim quote only.
        clean = clean_sentence(_SPEAKER_LINE.sub("", raw) if transcript else raw)
        kind = pick.kind or _kind(sentence, clean)
        parts = make_title(clean_sentence(raw, symbols_as_breaks=True), is_bug=kind == "bug_report", names=names)
        # The request names the ask; the complaint stays in the description and the quote.
        parts = replace(parts, title=ask_title(parts.title, kind, clean))
        if not content_terms(parts.title):
            return None
        # A neighbour that explains the ask ("Our IT team won't approve tools without it.").
        support = _supporting_sentence(text, sentences, index, end)
        problem = parts.reason
        outcome = parts.purpose
        quote_end = end
        if support is not None:
            support_clean = clean_sentence(support.segment.clean)
            if outcome is None and _OUTCOME_SENTENCE.search(support_clean):
                outcome = support_clean
            elif problem is None:
                problem = support_clean
            if support.segment.end - start <= QUOTE_MAX:
                quote_end = support.segment.end
        if kind in ("pain_point", "bug_report") and problem is None:
            problem = clean
        window = clean if support is None else f"{clean} {clean_sentence(support.segment.clean)}"
        context = _item_context(sentences, index, item)
        placement = mapper.place(f"{parts.title}. {clean}", context) if mapper.nodes else None
        urgency_text = window if len(sentences) > 12 else f"{window} {context}"
        return _Draft(
            index=index,
            strength=pick.strength,
            title=parts.title,
            description=_limit(clean, 1000),
            problem=_limit(problem, 1000) if problem else None,
            outcome=_limit(outcome, 1000) if outcome else None,
            kind=kind,
            urgency=_urgency(urgency_text, kind, problem is not None or outcome is not None),
            sentiment=_sentiment(window, kind),
            theme=placement.theme if placement else None,
            sub_theme=placement.sub_theme if placement else None,
            quote_start=start,
            quote_end=quote_end,
        )


def is_transcript(text: str) -> bool:
    """True for speaker-labelled call text ("Name Surname: ..." on three or more lines)."""
    return len(_SPEAKER_LINE.findall(text, 0, 20_000)) >= 3


def _can_lead(previous: SentenceEvidence, transcript: bool) -> bool:
    """Whether "It's tedious." may be read as being about `previous`: not small talk; in a call,
    only a sentence that itself carries an ask or a question (calls chain unrelated remarks)."""
    if previous.scores.get("noise", 0.0) > 0:
        return False
    if not transcript:
        return True
    return previous.is_question or max(previous.scores.get(k, 0.0) for k in ASK_KINDS) >= 1.0


def _looks_english(text: str) -> bool:
    """True when common English function words make up a fair share of the words."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 3:
        return True
    return sum(1 for w in words if w in _ENGLISH_WORDS) / len(words) >= 0.15


def _previous_in_paragraph(sentences: list[SentenceEvidence], index: int, text: str) -> SentenceEvidence | None:
    """The sentence before `index` when no line break separates them."""
    if index == 0:
        return None
    previous = sentences[index - 1]
    if previous.segment.kind != "sentence" or "\n" in text[previous.segment.end : sentences[index].segment.start]:
        return None
    return previous


def _customer_names(customer: str | None) -> tuple[str, ...]:
    """The customer's name and its distinctive first word ("Globex Corp" -> "Globex Corp", "Globex")."""
    if not customer or not customer.strip():
        return ()
    name = customer.strip()
    first = name.split()[0]
    names = [name]
    if len(first) >= 4 and first.lower() not in {"the", "team", "group", "clinic", "clinique", "global"}:
        names.append(first)
    return tuple(names)


def _quote_span(text: str, sentence: SentenceEvidence) -> tuple[int, int]:
    """The sentence's span in `text`; a sentence running over a line break keeps its best line."""
    segment = sentence.segment
    start, end = segment.start, segment.end
    if "\n" not in segment.text:
        return _trim(text, start, end)
    best: tuple[float, int, int] | None = None
    offset = start
    for line in segment.text.split("\n"):
        line_start, line_end = offset, offset + len(line)
        offset = line_end + 1
        masked = segment.clean[line_start - start : line_end - start]
        weight = sum(term.weight for term in content_terms(masked))
        if best is None or weight > best[0]:
            best = (weight, line_start, line_end)
    assert best is not None
    return _trim(text, best[1], best[2])


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start > QUOTE_MAX:
        cut = text.rfind(" ", start, start + QUOTE_MAX)
        end = cut if cut > start + QUOTE_MIN else start + QUOTE_MAX
    return start, end


def _supporting_sentence(
    text: str, sentences: list[SentenceEvidence], index: int, quote_end: int
) -> SentenceEvidence | None:
    """The next sentence when it is on the same line/paragraph and explains rather than asks."""
    if index + 1 >= len(sentences):
        return None
    following = sentences[index + 1]
    gap = text[quote_end : following.segment.start]
    if "\n" in gap or following.segment.kind != "sentence" or "\n" in following.segment.text.strip():
        return None
    scores = following.scores
    if scores.get("noise", 0.0) > 0 or max(scores.get(k, 0.0) for k in ASK_KINDS) >= ASK_THRESHOLD:
        return None
    clean = clean_sentence(following.segment.clean)
    if AGENT_REPLY.search(clean) or _LOGISTICS.search(clean) or following.is_question:
        return None
    if sum(term.weight for term in content_terms(clean)) < 1.0 or len(clean.split()) > 40:
        return None
    return following


def _item_context(sentences: list[SentenceEvidence], index: int, item: Tier2Input) -> str:
    """Neighbouring sentences and the subject line: context for the taxonomy and urgency."""
    parts = [item.title or ""]
    for neighbour in (index - 1, index + 1):
        if 0 <= neighbour < len(sentences):
            parts.append(clean_sentence(sentences[neighbour].segment.clean))
    return " ".join(p for p in parts if p)


def _kind(sentence: SentenceEvidence, clean: str) -> MentionKind:
    scores = sentence.scores
    feature = scores.get("feature_request", 0.0)
    bug = scores.get("bug_report", 0.0)
    pain = scores.get("pain_point", 0.0)
    if bug >= feature and bug >= pain:
        return "bug_report"
    if feature >= pain:
        return "improvement" if _IMPROVEMENT.search(clean) else "feature_request"
    return "pain_point"


def _urgency(text: str, kind: MentionKind, has_reason: bool) -> Urgency:
    if _CRITICAL.search(text):
        return "critical"
    if _HIGH.search(text):
        return "high"
    if _LOW.search(text):
        return "low"
    if kind in ("bug_report", "pain_point") or has_reason:
        return "medium"
    return "low"


def _sentiment(text: str, kind: MentionKind) -> Sentiment:
    if kind in ("bug_report", "pain_point") or _NEGATIVE.search(text):
        return "negative"
    if _POSITIVE.search(text):
        return "positive"
    return "neutral"


def _limit(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def _merge(drafts: list[_Draft]) -> list[_Draft]:
    """Merge repeats of one ask: same taxonomy place and similar wording."""
    kept: list[_Draft] = []
    for draft in drafts:
        target = next(
            (k for k in kept if _same_ask(k, draft)),
            None,
        )
        if target is None:
            kept.append(draft)
            continue
        # The request wording makes the better title than the complaint around it.
        if _KIND_RANK[draft.kind] < _KIND_RANK[target.kind]:
            draft.problem = draft.problem or target.description
            draft.merged = [*target.merged, target.index]
            draft.urgency = max(draft.urgency, target.urgency, key=_URGENCY_RANK.__getitem__)
            draft.strength = max(draft.strength, target.strength)
            kept[kept.index(target)] = draft
        else:
            target.problem = target.problem or (draft.description if draft.kind != target.kind else None)
            target.outcome = target.outcome or draft.outcome
            target.urgency = max(draft.urgency, target.urgency, key=_URGENCY_RANK.__getitem__)
            target.strength = max(draft.strength, target.strength)
            target.merged.append(draft.index)
    return kept


def _same_ask(kept: _Draft, draft: _Draft) -> bool:
    """Two asks of one message are one when worded alike (very alike if placed apart)."""
    score = similarity(kept.title, kept.description, draft.title, draft.description)
    return score >= (MERGE_SIMILARITY if kept.sub_theme == draft.sub_theme else MERGE_SIMILARITY_ACROSS)


def _to_model(draft: _Draft, text: str) -> MentionDraft:
    return MentionDraft(
        title=draft.title,
        description=draft.description,
        problem_statement=draft.problem,
        desired_outcome=draft.outcome,
        kind=draft.kind,
        urgency=draft.urgency,
        sentiment=draft.sentiment,
        theme=draft.theme,
        sub_theme=draft.sub_theme,
        evidence_quote=text[draft.quote_start : draft.quote_end],
    )
