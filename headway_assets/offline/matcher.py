"""Offline catalogue matching: is a new ask the SAME request as an existing one?

Both sides become weighted bags of content terms (`vocab.content_terms`: stemmed, stop words
and request scaffolding removed, generic product synonyms merged, names weighing more than
common words). The title counts fully and the description at half weight. Three overlaps are
combined: title against title, everything against everything, and how much of each title is
found anywhere in the other ask. Names on both sides that do not meet ("Okta" against
"Azure AD", "PDF" against "CSV") pull the score down: same area, different request.

The raw similarity is mapped so that `MATCH_THRESHOLD` (calibrated on paraphrases of one ask
against different asks of the same area) lands on the catalogue's 0.75.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from headway_assets.core.llm_catalogue import OFFLINE_PROVIDER
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import AI_MATCH as CATALOG_THRESHOLD  # the catalogue links a mention at this score
from headway_assets.llm.tasks import MatchCandidate, MatchInput
from headway_assets.offline.vocab import (
    SPECIFIC_WEIGHT,
    concept_terms,
    content_terms,
    english_text,
    related_terms,
)

MATCH_THRESHOLD: Final = 0.38  # raw similarity that counts as the same request
DESCRIPTION_WEIGHT: Final = 0.5
NAME_CONFLICT_PENALTY: Final = 0.45
DEFECT_MISMATCH_PENALTY: Final = 0.7
RELATED_CREDIT: Final = 0.5
_DEFECT: Final = re.compile(
    r"\b(?:fail(?:s|ed|ing|ure)?|errors?|erroring|broken|crash(?:es|ed|ing)?|bugs?|wrong|incorrect|timed out|times out"
    r"|timeouts?|doesn't work|does not work|stopped working|not working|garbled?|duplicates?|shifted|drops?|resets?"
    r"|never finishes|hangs?|freezes?|late|missing|stuck)\b",
    re.IGNORECASE,
)

Bag = dict[str, float]
_RELATED: Final = related_terms()


@dataclass(frozen=True, slots=True)
class _Profile:
    """A bag with what every comparison of it needs, computed once per bag (bags are cached and
    shared: never modify one). Same sums in the same order as computing them per pair."""

    bag: Bag
    total: float  # sum of the weights
    squares: float  # sum of the squared weights
    # For a stem NOT in the bag: the best weight of a stem of the bag related to it (`_overlaps`).
    reach: dict[str, float]


def _profile(bag: Bag) -> _Profile:
    reach: dict[str, float] = {}
    for stem_, weight in bag.items():
        for other in _RELATED.get(stem_, ()):
            if other not in bag and weight > reach.get(other, -1.0):
                reach[other] = weight
    return _Profile(bag, sum(bag.values()), sum(w * w for w in bag.values()), reach)


def _full_profile(title: str, description: str) -> _Profile:
    weights: Bag = {}
    for term in content_terms(description):
        weights[term.stem] = term.weight * DESCRIPTION_WEIGHT
    for term in content_terms(title):
        weights[term.stem] = max(weights.get(term.stem, 0.0), term.weight)
    return _profile(weights)


# A function of the title alone: the same title comes with many descriptions (a candidate's shown
# members change with the mention it is offered to), so it is cached apart from `_side`.
@lru_cache(maxsize=16_384)
def _title_profile(title: str) -> _Profile:
    return _profile({term.stem: term.weight for term in content_terms(title)})


def _overlaps(bag: Bag, other: _Profile) -> list[float]:
    """The weight of each stem of `bag` found in `other`, in the bag's order: the smaller of the
    two weights when `other` has the stem, else `RELATED_CREDIT` times the smaller of its weight
    and that of the best related stem `other` has. Stems found neither way are left out rather
    than counted as 0.0 (adding 0.0 changes no sum, so the sums are exactly those over every stem)."""
    found, reach = other.bag, other.reach
    out: list[float] = []
    for stem_, weight in bag.items():
        there = found.get(stem_)
        if there is not None:
            out.append(min(weight, there))
        else:
            best = reach.get(stem_)
            if best is not None:
                out.append(RELATED_CREDIT * min(weight, best))
    return out


def _dice(a: _Profile, b: _Profile) -> float:
    total = a.total + b.total
    if total <= 0:
        return 0.0
    shared = sum(_overlaps(a.bag, b))
    shared_back = sum(_overlaps(b.bag, a))
    return (shared + shared_back) / total


def _containment(title: _Profile, other: _Profile) -> float:
    """Share of a title's weight found in the other ask (by the title's own weights)."""
    total = title.total
    if total <= 0:
        return 0.0
    found, reach = other.bag, other.reach
    parts: list[float] = []
    for stem_, weight in title.bag.items():
        if stem_ in found:
            parts.append(weight)
        else:
            best = reach.get(stem_)
            if best is not None:
                parts.append(RELATED_CREDIT * min(weight, best))
    return sum(parts) / total


def _names(title: str, description: str) -> frozenset[str]:
    """Title stems written as names (capitalised mid-sentence or upper case) in the title or description.

    Only title words count: descriptions also name the customer's own tools and company.
    """
    described = {term.stem for term in content_terms(description) if term.weight >= SPECIFIC_WEIGHT - 1e-9}
    return frozenset(
        term.stem for term in content_terms(title) if term.weight >= SPECIFIC_WEIGHT - 1e-9 or term.stem in described
    )


def _unmatched_names(names: frozenset[str], other: Bag) -> bool:
    # Related terms do not count here: "Okta" relates to "SSO", yet an Azure AD ask is another ask.
    return any(name not in other for name in names)


@dataclass(frozen=True, slots=True)
class _Side:
    """One ask's title and description as `raw_similarity` compares them (cached per text)."""

    title: _Profile
    full: _Profile
    names: frozenset[str]
    defect: bool


# Cached here, once per (title, description): its parts are not cached on their own.
@lru_cache(maxsize=65_536)
def _side(title: str, description: str) -> _Side:
    return _Side(
        _title_profile(title),
        _full_profile(title, description),
        _names(title, description),
        _is_defect(title, description),
    )


def _raw(a: _Side, b: _Side) -> float:
    full_a, full_b = a.full, b.full
    if not full_a.bag or not full_b.bag:
        return 0.0
    titles = _dice(a.title, b.title)
    full = _dice(full_a, full_b)
    a_in_b, b_in_a = _containment(a.title, full_b), _containment(b.title, full_a)
    contained, contained_max = min(a_in_b, b_in_a), max(a_in_b, b_in_a)
    score = 0.3 * titles + 0.3 * full + 0.25 * contained + 0.15 * contained_max
    # Each ask names something (a vendor, a format) that the other does not mention at all:
    # same area, different request ("Okta SSO" / "Azure AD SSO", "PDF export" / "CSV limit").
    if _unmatched_names(a.names, full_b.bag) and _unmatched_names(b.names, full_a.bag):
        score *= NAME_CONFLICT_PENALTY
    # A defect and a wish sharing an area ("report shows yesterday's data" / "report to Slack").
    if a.defect != b.defect:
        score *= DEFECT_MISMATCH_PENALTY
    return min(1.0, score)


def raw_similarity(title_a: str, description_a: str, title_b: str, description_b: str) -> float:
    """0..1 overlap of two asks' content (uncalibrated; see `similarity`)."""
    return _raw(_side(title_a, description_a), _side(title_b, description_b))


def _is_defect(title: str, description: str) -> bool:
    return bool(_DEFECT.search(title) or _DEFECT.search(description))


def calibrate(raw: float) -> float:
    """Map a raw similarity onto the catalogue's scale: `MATCH_THRESHOLD` -> 0.75, 1 -> 1."""
    if raw <= 0:
        return 0.0
    if raw < MATCH_THRESHOLD:
        return CATALOG_THRESHOLD * raw / MATCH_THRESHOLD
    return min(1.0, CATALOG_THRESHOLD + (1 - CATALOG_THRESHOLD) * (raw - MATCH_THRESHOLD) / (1 - MATCH_THRESHOLD))


def similarity(title_a: str, description_a: str, title_b: str, description_b: str) -> float:
    """0..1 likelihood that two asks are the same request (>= 0.75: same)."""
    return round(calibrate(raw_similarity(title_a, description_a, title_b, description_b)), 4)


# -- the catalogue's question: which candidate, if any, is this mention's request? ---------------

QUOTE_WEIGHT = 0.3
WIDE_DESCRIPTION_WEIGHT = 0.5
EXAMPLE_WEIGHT = 0.8


def _wide(parts: tuple[tuple[str, float], ...]) -> Bag:
    """A bag over several texts (each at its weight), in English, with concept terms added."""
    bag: Bag = {}
    for text, factor in parts:
        for term in content_terms(english_text(text)):
            weight = term.weight * factor
            if weight > bag.get(term.stem, 0.0):
                bag[term.stem] = weight
    concepts = concept_terms()
    for stem_, weight in list(bag.items()):
        for concept in concepts.get(stem_, ()):
            extra = weight * CONCEPT_WEIGHT
            if extra > bag.get(concept, 0.0):
                bag[concept] = extra
    return bag


CONCEPT_WEIGHT = 0.8  # a term an ask's words point to (vocab.concept_terms), against the word itself
AREA_WEIGHT = 0.6


@lru_cache(maxsize=4096)
def _area(*names: str | None) -> frozenset[str]:
    return frozenset(term.stem for name in names if name for term in content_terms(english_text(name)))


def _damp(bag: Bag, area: frozenset[str]) -> Bag:
    return {stem_: weight * AREA_WEIGHT if stem_ in area else weight for stem_, weight in bag.items()}


# A bag and the sum of its squared weights (for `_cosine`).
_Weighted = tuple[Bag, float]


def _weighted(bag: Bag) -> _Weighted:
    return bag, sum(w * w for w in bag.values())


# Bags per mention or candidate view: used again mostly within one match call, so a small cache
# keeps nearly every hit (a 20,000-mention rebuild: 65,536 entries each held ~90 MiB more at peak
# for ~2 % more hits).
@lru_cache(maxsize=16_384)
def _wide_of(parts: tuple[tuple[str, float], ...]) -> Bag:
    """`_wide`, cached: a mention's bag is the same against every candidate, whatever the area."""
    return _wide(parts)


@lru_cache(maxsize=16_384)
def _mention_bag(title: str, description: str, quote: str, area: frozenset[str]) -> _Weighted:
    return _weighted(
        _damp(_wide_of(((title, 1.0), (description, WIDE_DESCRIPTION_WEIGHT), (quote, QUOTE_WEIGHT))), area)
    )


@lru_cache(maxsize=16_384)
def _request_bag(title: str, description: str, examples: tuple[str, ...], area: frozenset[str]) -> _Weighted:
    parts = ((title, 1.0), (description, WIDE_DESCRIPTION_WEIGHT), *((e, EXAMPLE_WEIGHT) for e in examples))
    return _weighted(_damp(_wide_of(parts), area))


@lru_cache(maxsize=65_536)
def _named(context: str) -> frozenset[str]:
    """Stems `context` writes as names (capitalised mid-sentence or upper case)."""
    return frozenset(t.stem for t in content_terms(english_text(context)) if t.weight >= SPECIFIC_WEIGHT - 1e-9)


@lru_cache(maxsize=65_536)
def _title_terms(title: str) -> tuple[frozenset[str], frozenset[str]]:
    """A title's stems written as names, and all its stems."""
    terms = content_terms(english_text(title))
    return frozenset(t.stem for t in terms if t.weight >= SPECIFIC_WEIGHT - 1e-9), frozenset(t.stem for t in terms)


@lru_cache(maxsize=16_384)
def _title_names(titles: tuple[str, ...], context: str) -> frozenset[str]:
    """Title terms that are names (vendors, formats, channels): written capitalised or upper case
    in a title, or anywhere in `context` (a title's first word is capitalised anyway: "Okta login")."""
    named = _named(context)
    names: set[str] = set()
    for title in titles:
        specific, every = _title_terms(title)
        names |= specific
        names |= every & named
    return frozenset(names)


def _cosine(a_weighted: _Weighted, b_weighted: _Weighted) -> float:
    (a, a_squares), (b, b_squares) = a_weighted, b_weighted
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b, a_squares, b_squares = b, a, b_squares, a_squares
    dot = sum([weight * b[stem_] for stem_, weight in a.items() if stem_ in b])
    if dot <= 0:
        return 0.0
    norm = (a_squares * b_squares) ** 0.5
    return dot / norm


@lru_cache(maxsize=65_536)
def _english_side(title: str, description: str) -> _Side:
    return _side(english_text(title), english_text(description))


# The title-and-description overlap of a mention wording and a candidate: it reads neither the
# mention's quote nor the places, so mentions worded alike (most of a large rebuild) share it.
@lru_cache(maxsize=16_384)
def _core(title: str, description: str, candidate_title: str, candidate_description: str) -> float:
    return _raw(_english_side(title, description), _english_side(candidate_title, candidate_description))


@lru_cache(maxsize=65_536)
def _mention_names(title: str, description: str, quote: str) -> frozenset[str]:
    return _title_names((title,), f"{description} {quote}")


def _area_of(item: MatchInput, candidate: MatchCandidate) -> frozenset[str]:
    return _area(item.theme, item.sub_theme, candidate.theme, candidate.sub_theme)


def features(item: MatchInput, candidate: MatchCandidate) -> dict[str, float]:
    """What the score of one candidate is made of (all 0..1)."""
    return _shipped_features(item, _mention_names(item.title, item.description, item.quote), candidate)


def _shipped_features(item: MatchInput, mention_names: frozenset[str], candidate: MatchCandidate) -> dict[str, float]:
    """`features`, given what depends on the mention alone (computed once for all its candidates)."""
    core = _core(item.title, item.description, candidate.title, candidate.description)
    area = _area(item.theme, item.sub_theme, candidate.theme, candidate.sub_theme)
    mention_weighted = _mention_bag(item.title, item.description, item.quote, area)
    request_weighted = _request_bag(candidate.title, candidate.description, candidate.examples, area)
    wide = _cosine(mention_weighted, request_weighted)
    # Each side's titles name something the other never mentions: same area, another request. The
    # request's names are read only when the mention's first side holds (they cost the most).
    conflict = _unmatched_names(mention_names, request_weighted[0]) and _unmatched_names(
        _title_names((candidate.title, *candidate.examples), candidate.description), mention_weighted[0]
    )
    same_theme = item.theme is not None and item.theme == candidate.theme
    same_sub = item.sub_theme is not None and item.sub_theme == candidate.sub_theme
    if candidate.theme is None and candidate.sub_theme is None:
        # A candidate without a place comes from a linker that offers one sub-theme at a time.
        same_sub = same_theme = True
    return {
        "core": core,
        "wide": wide,
        "same_sub": float(same_sub or (item.sub_theme is None and candidate.sub_theme is None and same_theme)),
        "same_theme": float(same_theme),
        "conflict": float(conflict),
    }


# Raw evidence needed to link, by where the candidate sits relative to the mention: the same
# sub-theme is the usual home of an ask; a neighbouring sub-theme of the same theme holds about
# one mention in six of an ask; another theme is offered only when its text is very similar.
LINK_SAME_SUB_THEME = 0.24
LINK_SAME_THEME = 0.28
LINK_OTHER_THEME = 0.5
TITLE_EVIDENCE = 0.5  # title-and-description overlap (`raw_similarity`) counts at this share


def evidence(parts: dict[str, float]) -> float:
    """One 0..1 figure from `features`: the stronger of the two comparisons."""
    best = max(parts["wide"], TITLE_EVIDENCE * parts["core"])
    return best * NAME_CONFLICT_PENALTY if parts["conflict"] else best


def link_threshold(parts: dict[str, float]) -> float:
    """The evidence needed for this candidate's place in the taxonomy."""
    if parts["same_sub"]:
        return LINK_SAME_SUB_THEME
    if parts["same_theme"]:
        return LINK_SAME_THEME
    return LINK_OTHER_THEME


def candidate_score(item: MatchInput, candidate: MatchCandidate) -> float:
    """0..1 on the catalogue's scale: >= 0.75 (`AI_MATCH`) means the same request."""
    return hand_score(features(item, candidate))


def is_defect(title: str, description: str) -> bool:
    """Whether an ask reads as something broken rather than a wish (read in English)."""
    return _english_side(title, description).defect


def hand_score(parts: dict[str, float]) -> float:
    """The shipped rule: `features`' parts -> 0..1 on the catalogue's scale (the bar lands on 0.75)."""
    raw, threshold = evidence(parts), link_threshold(parts)
    if raw <= 0:
        return 0.0
    if raw < threshold:
        return CATALOG_THRESHOLD * raw / threshold
    return min(1.0, CATALOG_THRESHOLD + (1 - CATALOG_THRESHOLD) * (raw - threshold) / (1 - threshold))


# How sure the matcher must be that a second candidate is the same ask before the catalogue merges
# it into the first: above the 0.75 that links one mention, because a wrong merge joins two whole
# asks, and merging at 0.75 chained neighbouring asks together (docs/quality.md).
MERGE_SCORE = 0.9


# One score per mention and candidate: a catalogue asks about the same mention wording against
# mostly the same candidates again and again (one candidate changed, or another quote).
@lru_cache(maxsize=32_768)
def _pair_score(asked: tuple[str, str, str, str | None, str | None], candidate: MatchCandidate) -> float:
    """`candidate_score` of `candidate` for a mention's (title, description, quote, theme, sub-theme)."""
    title, description, quote, theme, sub_theme = asked
    item = MatchInput(
        title=title, description=description, sub_theme=sub_theme, candidates=(), theme=theme, quote=quote
    )
    return _score(_features(item, _mention_names(title, description, quote), candidate))


# What `match` scores with: the shipped rule, unless an experiment stands another in (`scoring`).
_score: Callable[[dict[str, float]], float] = hand_score
_features: Callable[[MatchInput, frozenset[str], MatchCandidate], dict[str, float]] = _shipped_features


@contextmanager
def scoring(
    score: Callable[[dict[str, float]], float] | None = None,
    pair_features: Callable[[MatchInput, MatchCandidate], dict[str, float]] | None = None,
    other_theme_bar: float | None = None,
    merge_score: float | None = None,
) -> Iterator[None]:
    """For experiments only (`scripts/fit_pair_judge.py`; the pipeline never calls it): `match`
    scores with `score` in place of `hand_score`, over `pair_features` in place of `features`,
    needs `other_theme_bar` of a candidate of another theme, and/or merges at `merge_score`, until
    the block ends. Changes module state: not for concurrent use."""
    global _score, _features, LINK_OTHER_THEME, MERGE_SCORE
    saved = (_score, _features, LINK_OTHER_THEME, MERGE_SCORE)
    if score is not None:
        _score = score
    if pair_features is not None:
        chosen = pair_features
        _features = lambda item, _names, candidate: chosen(item, candidate)  # noqa: E731
    if other_theme_bar is not None:
        LINK_OTHER_THEME = other_theme_bar
    if merge_score is not None:
        MERGE_SCORE = merge_score
    _pair_score.cache_clear()
    try:
        yield
    finally:
        _score, _features, LINK_OTHER_THEME, MERGE_SCORE = saved
        _pair_score.cache_clear()


def match_predictor(provider: str) -> Callable[[MatchInput], CatalogMatch] | None:
    """What guesses `provider`'s match answers for the catalogue's ask-ahead rounds: this matcher for
    a hosted provider (its rounds are round trips), none for the offline provider (it is this
    matcher, answered in-process)."""
    return None if provider == OFFLINE_PROVIDER else match


def match(item: MatchInput) -> CatalogMatch:
    """The candidate that is the same request as `item` (or None, with the best score), and the
    other candidates that are the same ask too (`also_same`: the catalogue merges them)."""
    scores: dict[str, float] = {}
    asked = (item.title, item.description, item.quote, item.theme, item.sub_theme)
    for candidate in item.candidates:
        score = _pair_score(asked, candidate)
        scores[candidate.id] = max(scores.get(candidate.id, 0.0), score)
    best_id: str | None = None
    best_score = 0.0
    for candidate_id, score in scores.items():  # first candidate wins ties: they come most similar first
        if score > best_score + 1e-12:
            best_id, best_score = candidate_id, score
    if best_id is None or best_score < CATALOG_THRESHOLD:
        return CatalogMatch(candidate_id=None, score=round(best_score, 4))
    also = [c for c, score in scores.items() if c != best_id and score >= MERGE_SCORE]
    return CatalogMatch(candidate_id=best_id, score=round(best_score, 4), also_same=also)
