"""The offline tier-1 classifier: cue lexicons plus a small naive-Bayes model, no key, no network.

Pipeline for one text:
1. `text.prepare` masks code, traces, logs, quoted replies and template boilerplate, and cuts the
   rest into a title, headings and sentences (spans of the original text).
2. Each sentence is folded and scanned for cues (`cues.detect_cues`); question marks, template
   headings, declared issue types ("Issue type: Bug") and stack traces add structural evidence.
   A sentence that is mostly small talk (greetings, scheduling, thanks, bots, a helper's
   "have you tried ...?") counts only as noise.
3. Cues are combined per category with diminishing returns (each lexicon entry once, the title
   counts more), and a naive-Bayes model trained on our own hand-written examples
   (`examples.py`) votes on which kind of feedback it is, covering wording the lexicons miss.
4. The strongest category wins if it clears the feedback threshold; relevance follows from the
   strength of the evidence and the category, confidence from the margins over the runner-up
   and over the noise.

Everything is deterministic: no randomness, no clocks, no dictionaries iterated in hash order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from headway_assets.llm.schemas import Tier1Category, Tier1Label
from headway_assets.offline.cues import (
    CueHit,
    boilerplate_cue,
    category_scores,
    comment_cues,
    declared_type,
    detect_cues,
    detect_title_cues,
    heading_cues,
    is_declaration_heading,
)
from headway_assets.offline.lexicon import CUE_CATEGORIES, CueCategory, FeedbackCategory
from headway_assets.offline.model import NaiveBayesModel, default_model
from headway_assets.offline.text import PreparedText, Segment, fold, prepare

FEEDBACK_CATEGORIES: Final[tuple[FeedbackCategory, ...]] = (
    "feature_request",
    "bug_report",
    "pain_point",
    "question",
    "praise",
)
# Order used to break exact ties: the more actionable kind wins.
_TIE_ORDER: Final[dict[str, int]] = {c: i for i, c in enumerate(FEEDBACK_CATEGORIES)}

# Tuned constants (docs/quality.md says how they were chosen). Weights are in lexicon units:
# 1 = a weak hint, 3 = a strong cue, so the threshold means "one moderate cue".
FEEDBACK_THRESHOLD: Final = 2.0
TITLE_WEIGHT: Final = 1.5
CUE_DECAY: Final = 0.6
MAX_CUES: Final = 12
LONG_TEXT_WORDS: Final = 40
PERSONAL_WEIGHT: Final = 3.5
PERSONAL_MIN_SENTENCES: Final = 2
LONG_TEXT_THRESHOLD_FACTOR: Final = 0.5
QUESTION_MARK_WEIGHT: Final = 2.0
TRACE_WEIGHT: Final = 2.5
MODEL_WEIGHT: Final = 2.0
STRUCTURE_CAP: Final = 4.0
DECLARED_WEIGHT: Final = 12.0
_QUESTION_MARK_ENTRY: Final = -1000
# Longer texts are cut here (the pipeline skips messages over 50,000 characters anyway).
MAX_CHARS: Final = 60_000

_FIRST_PERSON: Final = frozenset({"i", "im", "ive", "id", "ill", "my", "me", "mine", "myself"})
_MARKUP: Final = re.compile(r"[#*_`~>|]+")
_ATTEMPTED: Final = re.compile(
    r"^(?:i|we|ive|weve)(?: have| also| already| then)? "
    r"(?:tried|cleared|reinstalled|restarted|rebooted|disabled|updated|reset)\b"
    r"|\b(?:your|the|that|this) (?:solution|suggestion|fix|workaround|advice|tip) (?:did not|didnt|doesnt|does not)"
    r"|\btried (?:\w+ ){0,3}(?:things|options|solutions|suggestions|settings|everything)"
)
_PLACEHOLDERS: Final = re.compile(r"(?i)_no response_|n/a|\bnone\b|```\w*|<!--.*?-->", re.S)

# Relevance bands per category: (floor when it just clears the threshold, ceiling).
_RELEVANCE_BAND: Final[dict[FeedbackCategory, tuple[int, int]]] = {
    "feature_request": (5, 10),
    "bug_report": (5, 9),
    "pain_point": (5, 8),
    "question": (3, 6),
    "praise": (3, 5),
}


@dataclass(slots=True)
class SentenceEvidence:
    """Scores of one segment, kept for explanations and for the tier-2 extractor."""

    segment: Segment
    folded: str
    hits: list[CueHit]
    scores: dict[CueCategory, float]
    is_question: bool


@dataclass(slots=True)
class Evidence:
    """Everything the decision is based on."""

    prepared: PreparedText
    sentences: list[SentenceEvidence] = field(default_factory=list)
    lexical: dict[CueCategory, float] = field(default_factory=dict)
    structural: dict[CueCategory, float] = field(default_factory=dict)
    model: dict[Tier1Category, float] = field(default_factory=dict)
    model_vote: dict[FeedbackCategory, float] = field(default_factory=dict)
    totals: dict[CueCategory, float] = field(default_factory=dict)


def _empty_scores() -> dict[CueCategory, float]:
    return dict.fromkeys(CUE_CATEGORIES, 0.0)


def _question_mark_weight(clean: str, folded: str) -> float:
    """A full question counts fully; "?!" exclamations and two-word fragments count less."""
    tail = clean.rstrip()
    if "?!" in tail[-4:] or "!?" in tail[-4:] or len(folded.split()) < 3:
        return QUESTION_MARK_WEIGHT / 2
    return QUESTION_MARK_WEIGHT


def _ends_with_question(segment_text: str) -> bool:
    stripped = segment_text.rstrip(" \t\"')]*_!.:;😀😃🙂🤔🙏")
    return stripped.endswith(("?", "？"))


class OfflineClassifier:
    """Deterministic tier-1 classifier that runs anywhere: `classify(text) -> Tier1Label`."""

    def __init__(self, model: NaiveBayesModel | None = None, *, use_model: bool = True) -> None:
        """Use the bundled model trained on our own examples unless another one is given."""
        self._model = (model or default_model()) if use_model else None

    # -- public API ------------------------------------------------------------------------
    def classify(self, text: str) -> Tier1Label:
        """Label one message (any length, any language; empty text is `other`, relevance 0)."""
        return self.decide(self.explain(text))

    def classify_many(self, texts: Iterable[str]) -> list[Tier1Label]:
        """Label many messages, in order."""
        return [self.classify(text) for text in texts]

    __call__ = classify_many

    # -- scoring ---------------------------------------------------------------------------
    def explain(self, text: str) -> Evidence:
        """Score `text` and return the evidence behind the decision (for debugging and tier-2)."""
        if not isinstance(text, str):
            raise TypeError(f"OfflineClassifier.classify expects str, got {type(text).__name__}")
        prepared = prepare(text[:MAX_CHARS])
        evidence = Evidence(prepared=prepared)
        structural = _empty_scores()
        # Strongest weight seen per lexicon entry over the whole text: repeating "error" in
        # every line of a log is one piece of evidence, not twenty.
        entry_weights: dict[tuple[CueCategory, int], float] = {}
        noise_segments = 0
        declaration_pending = False
        after_heading = False
        prose_parts: list[str] = []
        segments = prepared.segments

        for index, segment in enumerate(segments):
            folded = fold(segment.clean)
            if segment.kind == "heading":
                heading = fold(_strip_markup(segment.clean))
                declaration_pending = is_declaration_heading(heading)
                after_heading = True
                if _section_has_content(prepared.original, segments, index):
                    for category, weight in heading_cues(heading):
                        structural[category] += weight
                continue
            if not folded:
                continue
            if declaration_pending:
                declaration_pending = False
                declared = declared_type(folded)
                if declared is not None:
                    structural[declared] += DECLARED_WEIGHT
                    continue
            boiler = boilerplate_cue(folded)
            if boiler is not None:
                template_category, template_weight = boiler
                if template_category is not None:
                    structural[template_category] += template_weight
                continue
            if after_heading and len(folded.split()) <= 3 and not folded.endswith("?"):
                # A one-word answer to a form field ("Yes", "No", "2.13", "source").
                after_heading = False
                continue
            after_heading = False
            hits = detect_cues(folded)
            if segment.kind == "title":
                hits.extend(detect_title_cues(folded))
            is_question = _ends_with_question(segment.clean) or folded.startswith("¿")
            scores = _empty_scores()
            scores.update(category_scores(hits))
            mark_weight = _question_mark_weight(segment.clean, folded) if is_question else 0.0
            if is_question:
                scores["question"] += mark_weight
            factors = _sentence_factors(scores, is_question, bool(_ATTEMPTED.search(folded)))
            boost = TITLE_WEIGHT if segment.kind == "title" else 1.0
            scores = {c: v * factors[c] * boost for c, v in scores.items()}
            # Each sentence is either small talk or content. A greeting or a helper's "have you
            # tried ...?" contributes only noise; a content sentence contributes no noise, so a
            # polite "Hi, ... Thanks!" around a bug report does not water the report down.
            is_noise = scores["noise"] > 0 and scores["noise"] >= max(scores[c] for c in FEEDBACK_CATEGORIES)
            if is_noise:
                noise_segments += 1
            for hit in hits:
                if (hit.category == "noise") != is_noise:
                    continue
                key = (hit.category, hit.entry)
                weight = hit.weight * factors[hit.category] * boost
                if weight > entry_weights.get(key, 0.0):
                    entry_weights[key] = weight
            if is_question and not is_noise:
                entry_weights[("question", _QUESTION_MARK_ENTRY - index)] = mark_weight * factors["question"] * boost
            evidence.sentences.append(SentenceEvidence(segment, folded, hits, scores, is_question))
            prose_parts.append(folded)

        for comment in prepared.signals.comments:
            for category, weight in comment_cues(fold(comment[:400])):
                structural[category] += weight

        signals = prepared.signals
        if signals.trace_lines:
            structural["bug_report"] += TRACE_WEIGHT if signals.trace_lines >= 2 else TRACE_WEIGHT * 0.6
        structural["question"] += _personal_narrative_weight(evidence.sentences)

        grouped: dict[CueCategory, list[float]] = {c: [] for c in CUE_CATEGORIES}
        for (category, _entry), weight in entry_weights.items():
            grouped[category].append(weight)
        lexical = {c: _decayed_sum(v) for c, v in grouped.items()}
        if evidence.sentences:
            # Greetings and sign-offs around real content are normal: noise weighs (on relevance
            # and confidence) in proportion to how much of the message is small talk.
            lexical["noise"] *= noise_segments / len(evidence.sentences)
        structural = {c: min(v, STRUCTURE_CAP) if v < DECLARED_WEIGHT else v for c, v in structural.items()}
        totals = {c: lexical[c] + structural[c] for c in lexical}
        if self._model is not None and prose_parts:
            probabilities = self._model.predict_proba(" ".join(prose_parts))
            evidence.model = probabilities
            # The model only chooses *between* kinds of feedback: whether a text is feedback at
            # all is left to the cues, which handle greetings, logistics and help-desk replies
            # far better than a bag of words trained on a few hundred sentences.
            feedback_mass = sum(probabilities[c] for c in FEEDBACK_CATEGORIES) or 1.0
            share = 1.0 / len(FEEDBACK_CATEGORIES)
            for category in FEEDBACK_CATEGORIES:
                p = probabilities[category] / feedback_mass
                evidence.model_vote[category] = MODEL_WEIGHT * (p - share) / (1 - share)
        evidence.lexical = lexical
        evidence.structural = structural
        evidence.totals = totals
        return evidence

    # -- decision --------------------------------------------------------------------------
    def decide(self, evidence: Evidence) -> Tier1Label:
        """Turn evidence into a `Tier1Label` with a category, relevance and confidence."""
        totals = evidence.totals
        if not evidence.sentences and not any(v > 0 for v in evidence.structural.values()):
            return Tier1Label(is_feedback=False, category="other", relevance=0, confidence=0.95)
        # Whether it is feedback is decided on the cues alone; which kind also hears the model.
        best_score = max(totals[c] for c in FEEDBACK_CATEGORIES)
        combined = {c: totals[c] + evidence.model_vote.get(c, 0.0) for c in FEEDBACK_CATEGORIES}
        ranked = sorted(FEEDBACK_CATEGORIES, key=lambda c: (-combined[c], _TIE_ORDER[c]))
        best, runner_up = ranked[0], ranked[1]
        noise = max(totals["noise"], 0.0)
        signals = evidence.prepared.signals
        technical = bool(signals.code_blocks or signals.inline_code or signals.trace_lines or signals.machine_lines)
        words = sum(len(sentence.folded.split()) for sentence in evidence.sentences)
        # Code, logs and traces mean the message is about the product, and a long, structured
        # report (title plus body) rarely is small talk: weaker cues suffice for both.
        titled = bool(evidence.sentences) and evidence.sentences[0].segment.kind == "title"
        reportish = technical or (words >= LONG_TEXT_WORDS and titled)
        threshold = FEEDBACK_THRESHOLD * (LONG_TEXT_THRESHOLD_FACTOR if reportish else 1.0)
        if best_score < threshold:
            return self._other(evidence, best_score, noise)

        strength = max(0.0, max(totals[best], combined[best]) - FEEDBACK_THRESHOLD)
        low, high = _RELEVANCE_BAND[best]
        relevance = low + (high - low) * (1 - math.exp(-strength / 4.0))
        relevance += _specificity_bonus(evidence)
        if best in ("question", "pain_point") and totals["feature_request"] >= FEEDBACK_THRESHOLD / 2:
            # "Is there a way to export to CSV?" or "there's no way to ..." point at a missing
            # capability, which is what tier-2 looks for.
            relevance += 1.0
        relevance -= min(1.0, noise / 4)
        relevance_int = max(low - 1, min(high, round(relevance)))

        gap = combined[best] - max(combined[runner_up], 0.0)
        clarity = best_score / (best_score + noise)
        confidence = 0.4 + 0.55 * (1 - math.exp(-gap / 3.0)) * clarity
        confidence = round(min(0.95, max(0.3, confidence)), 3)
        return Tier1Label(is_feedback=True, category=best, relevance=relevance_int, confidence=confidence)

    @staticmethod
    def _other(evidence: Evidence, best_score: float, noise: float) -> Tier1Label:
        """Not feedback: relevance 0-3 by how much weak feedback signal there was."""
        if best_score <= 0.5:
            relevance = 0 if noise > 0 or evidence.prepared.prose_chars < 40 else 1
        else:
            relevance = 1 + min(2, int(best_score / (FEEDBACK_THRESHOLD / 2)))
            if noise >= best_score:
                relevance = min(relevance, 1)
        closeness = max(0.0, best_score) / FEEDBACK_THRESHOLD
        confidence = round(min(0.95, max(0.35, 0.95 - 0.45 * min(closeness, 1.0))), 3)
        return Tier1Label(is_feedback=False, category="other", relevance=relevance, confidence=confidence)


def _sentence_factors(
    scores: dict[CueCategory, float], is_question: bool, attempted: bool = False
) -> dict[CueCategory, float]:
    """Sentence-level interplay between categories, as multipliers on each category's cues.

    A request phrased as a question ("could you add ...?") is a request, and a question about a
    crash is mostly a bug report, so the question vote shrinks when a strong ask or bug is there.
    Negative wording next to praise ("not great") cancels the praise.
    """
    factors: dict[CueCategory, float] = dict.fromkeys(scores, 1.0)
    if scores["feature_request"] >= 3.0:
        factors["question"] = 0.35
    elif scores["bug_report"] >= 3.0 and is_question:
        factors["question"] = 0.7
    if scores["praise"] > 0 and scores["pain_point"] >= scores["praise"]:
        factors["praise"] = 0.3
    if attempted:
        # "I tried X and that didn't work" reports troubleshooting, not a new defect.
        factors["bug_report"] = 0.5
    return factors


def _decayed_sum(values: list[float]) -> float:
    """Strongest cue counts fully, the next `CUE_DECAY` of its weight, and so on."""
    values = sorted(values, reverse=True)
    return sum(v * (CUE_DECAY**rank) for rank, v in enumerate(values[:MAX_CUES]))


def _personal_narrative_weight(sentences: list[SentenceEvidence]) -> float:
    """Evidence of a help request from how much a longer message talks about the writer.

    People asking for help narrate their own situation ("I'm trying to ..., my code ..., I get
    ..."); defect reports and feature proposals describe the product. Only multi-sentence
    texts count: in a single sentence the density says little.
    """
    body = [s.folded for s in sentences if s.segment.kind != "title"]
    if len(body) < PERSONAL_MIN_SENTENCES:
        return 0.0
    words = " ".join(body).split()
    if len(words) < 20:
        return 0.0
    density = sum(1 for w in words if w in _FIRST_PERSON) / len(words)
    return PERSONAL_WEIGHT * min(1.0, max(0.0, (density - 0.02) / 0.04))


def _specificity_bonus(evidence: Evidence) -> float:
    """A little more relevance for concrete, substantial messages; less for one-liners."""
    words = sum(len(s.folded.split()) for s in evidence.sentences)
    if words < 4:
        return -1.0
    if words >= 12:
        return 0.5
    return 0.0


def _section_has_content(original: str, segments: tuple[Segment, ...], index: int) -> bool:
    """True when the section under heading `index` was filled in (not blank or a placeholder).

    Issue forms often show every heading ("Steps to reproduce", "Relevant log output") whatever
    the report is; only a filled section is evidence.
    """
    start = segments[index].end
    end = next((s.start for s in segments[index + 1 :] if s.kind == "heading"), len(original))
    body = _PLACEHOLDERS.sub("", original[start:end])
    return sum(1 for ch in body if ch.isalnum()) >= 12


def _strip_markup(text: str) -> str:
    """Heading text without Markdown emphasis: "**Do you want a *feature*?**" -> "Do you want a feature?"."""
    return " ".join(_MARKUP.sub(" ", text).split())
