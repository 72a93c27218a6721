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
from functools import lru_cache
from typing import Final

from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import AI_MATCH as CATALOG_THRESHOLD  # the catalogue links a mention at this score
from headway_assets.llm.tasks import MatchInput
from headway_assets.offline.vocab import SPECIFIC_WEIGHT, content_terms, related_terms

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


# Bags are cached and shared: never modify one.
@lru_cache(maxsize=16_384)
def _bag(title: str, description: str) -> Bag:
    weights: Bag = {}
    for term in content_terms(description):
        weights[term.stem] = term.weight * DESCRIPTION_WEIGHT
    for term in content_terms(title):
        weights[term.stem] = max(weights.get(term.stem, 0.0), term.weight)
    return weights


@lru_cache(maxsize=16_384)
def _title_bag(title: str) -> Bag:
    return {term.stem: term.weight for term in content_terms(title)}


def _overlap(stem: str, weight: float, other: Bag) -> float:
    """Weight of `stem` found in `other`: fully when present, half through a related term."""
    if stem in other:
        return min(weight, other[stem])
    related = related_terms().get(stem)
    if related:
        best = max((other[r] for r in related if r in other), default=0.0)
        return RELATED_CREDIT * min(weight, best)
    return 0.0


def _dice(a: Bag, b: Bag) -> float:
    total = sum(a.values()) + sum(b.values())
    if total <= 0:
        return 0.0
    shared = sum(_overlap(stem, weight, b) for stem, weight in a.items())
    shared_back = sum(_overlap(stem, weight, a) for stem, weight in b.items())
    return (shared + shared_back) / total


def _containment(title: Bag, other: Bag) -> float:
    """Share of a title's weight found in the other ask (by the title's own weights)."""
    total = sum(title.values())
    if total <= 0:
        return 0.0
    return sum(weight if stem in other else _overlap(stem, weight, other) for stem, weight in title.items()) / total


@lru_cache(maxsize=16_384)
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


def raw_similarity(title_a: str, description_a: str, title_b: str, description_b: str) -> float:
    """0..1 overlap of two asks' content (uncalibrated; see `similarity`)."""
    title_bag_a, title_bag_b = _title_bag(title_a), _title_bag(title_b)
    full_a, full_b = _bag(title_a, description_a), _bag(title_b, description_b)
    if not full_a or not full_b:
        return 0.0
    titles = _dice(title_bag_a, title_bag_b)
    full = _dice(full_a, full_b)
    contained = min(_containment(title_bag_a, full_b), _containment(title_bag_b, full_a))
    contained_max = max(_containment(title_bag_a, full_b), _containment(title_bag_b, full_a))
    score = 0.3 * titles + 0.3 * full + 0.25 * contained + 0.15 * contained_max
    # Each ask names something (a vendor, a format) that the other does not mention at all:
    # same area, different request ("Okta SSO" / "Azure AD SSO", "PDF export" / "CSV limit").
    if _unmatched_names(_names(title_a, description_a), full_b) and _unmatched_names(
        _names(title_b, description_b), full_a
    ):
        score *= NAME_CONFLICT_PENALTY
    # A defect and a wish sharing an area ("report shows yesterday's data" / "report to Slack").
    if _is_defect(title_a, description_a) != _is_defect(title_b, description_b):
        score *= DEFECT_MISMATCH_PENALTY
    return min(1.0, score)


@lru_cache(maxsize=16_384)
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


def match(item: MatchInput) -> CatalogMatch:
    """The candidate that is the same request as `item`, or None with the best score."""
    best_id: str | None = None
    best_score = 0.0
    for candidate in item.candidates:
        score = similarity(item.title, item.description, candidate.title, candidate.description)
        if score > best_score + 1e-12:  # first candidate wins ties: candidates come most similar first
            best_id, best_score = candidate.id, score
    if best_id is None or best_score < CATALOG_THRESHOLD:
        return CatalogMatch(candidate_id=None, score=round(best_score, 4))
    return CatalogMatch(candidate_id=best_id, score=round(best_score, 4))
