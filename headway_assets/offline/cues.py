"""Cue detection: which lexicon entries fire in a piece of folded text, and how strongly.

Each category's entries are compiled into one alternation with a named group per entry, so a
sentence costs one regex scan per category however large the lexicon grows. Entries are ordered
heaviest first: where two entries could match at the same position, the stronger one wins.
The hits keep their spans (in folded text) so the tier-2 extractor can reuse them to pick the
sentence and words that carry an ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from headway_assets.offline.lexicon import (
    COMMENT_CUES,
    CUE_CATEGORIES,
    DECLARATION_HEADINGS,
    DECLARED_TYPES,
    HEADING_CUES,
    LEXICON,
    TEMPLATE_BOILERPLATE,
    TITLE_CUES,
    CueCategory,
    CueSpec,
)


@dataclass(frozen=True, slots=True)
class CueHit:
    """One lexicon entry that fired: its category, weight, entry index and span in the folded text."""

    category: CueCategory
    weight: float
    entry: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _CompiledCategory:
    regex: re.Pattern[str]
    weights: dict[str, tuple[float, int]]


def _bounded(pattern: str) -> str:
    """Wrap a bare lexicon pattern so it only matches whole words."""
    return rf"(?<!\w)(?:{pattern})(?!\w)"


def compile_lexicon(specs: tuple[CueSpec, ...], category: CueCategory) -> _CompiledCategory:
    """Compile one category's entries into a single alternation with one named group per entry.

    The group is empty and comes after its entry: it still names the entry that matched (the
    last group closed, `match.lastgroup`), and the alternative starts with the entry's own first
    character or set, which the regex engine compares before entering the alternative (a group in
    front is entered, and its state saved, for every alternative at every word). Same matches and
    spans (checked on 66,000 sentences), the scan twice as fast."""
    order = sorted(range(len(specs)), key=lambda i: (-specs[i][1], i))
    parts: list[str] = []
    weights: dict[str, tuple[float, int]] = {}
    for i in order:
        pattern, weight = specs[i]
        try:
            re.compile(pattern)
        except re.error as exc:  # a broken entry must name itself, not fail the whole import obscurely
            raise ValueError(f"lexicon entry {category}[{i}] is not a valid regex ({exc}): {pattern!r}") from exc
        name = f"c{i}"
        parts.append(f"(?:{pattern})(?!\\w)(?P<{name}>)")
        weights[name] = (weight, i)
    # One shared look-behind: alternatives are only tried where a word starts, which makes the
    # scan several times faster than checking the boundary inside every alternative.
    return _CompiledCategory(regex=re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")"), weights=weights)


@lru_cache(maxsize=1)
def compiled_lexicon() -> dict[CueCategory, _CompiledCategory]:
    """The compiled lexicon, built once per process."""
    return {category: compile_lexicon(LEXICON[category], category) for category in CUE_CATEGORIES}


def detect_cues(folded: str, categories: tuple[CueCategory, ...] = CUE_CATEGORIES) -> list[CueHit]:
    """All cue hits in `folded` (already passed through `text.fold`), each entry at most once."""
    return list(_detect_cues(folded, categories))


# The lexicon scan is the classifier's hot spot, and the same sentences come back: overlapping
# chunks, then tier-2 and the insight of the same message. Hits are immutable, so cache them.
@lru_cache(maxsize=65_536)
def _detect_cues(folded: str, categories: tuple[CueCategory, ...]) -> tuple[CueHit, ...]:
    hits: list[CueHit] = []
    lexicon = compiled_lexicon()
    for category in categories:
        compiled = lexicon[category]
        seen: set[int] = set()
        for match in compiled.regex.finditer(folded):
            name = match.lastgroup
            if name is None:
                continue
            weight, entry = compiled.weights[name]
            if entry in seen:
                continue
            seen.add(entry)
            hits.append(CueHit(category, weight, entry, match.start(), match.end()))
    return tuple(hits)


def category_scores(hits: list[CueHit]) -> dict[CueCategory, float]:
    """Sum each category's hits with diminishing returns (1, 0.6, 0.36, ...) so stacking weak
    cues cannot outweigh one explicit statement by much."""
    grouped: dict[CueCategory, list[float]] = {}
    for hit in hits:
        grouped.setdefault(hit.category, []).append(hit.weight)
    scores: dict[CueCategory, float] = {}
    for category, weights in grouped.items():
        weights.sort(reverse=True)
        scores[category] = sum(w * (0.6**rank) for rank, w in enumerate(weights))
    return scores


_HEADING_REGEXES: Final = tuple((re.compile(_bounded(p)), cat, w) for p, cat, w in HEADING_CUES)
_DECLARATION_REGEX: Final = re.compile(rf"^(?:{DECLARATION_HEADINGS})\W*$")
_DECLARED_TYPE_REGEXES: Final = tuple((re.compile(_bounded(p)), cat) for p, cat in DECLARED_TYPES)
_BOILERPLATE_REGEXES: Final = tuple((re.compile(p), cat, w) for p, cat, w in TEMPLATE_BOILERPLATE)


def heading_cues(folded_heading: str) -> list[tuple[CueCategory, float]]:
    """Categories suggested by a template heading such as "Steps to reproduce"."""
    found: dict[CueCategory, float] = {}
    for regex, category, weight in _HEADING_REGEXES:
        if regex.search(folded_heading):
            found[category] = max(found.get(category, 0.0), weight)
    return list(found.items())


def is_declaration_heading(folded_heading: str) -> bool:
    """True for headings like "Issue type" whose answer states the kind of report."""
    return bool(_DECLARATION_REGEX.match(folded_heading))


def declared_type(folded_answer: str) -> CueCategory | None:
    """The category a short answer such as "Bug" or "Feature request" declares, if any."""
    if len(folded_answer.split()) > 6:
        return None
    matches = [cat for regex, cat in _DECLARED_TYPE_REGEXES if regex.search(folded_answer)]
    # "Documentation bug" is a bug; an answer naming two kinds ("bug or feature") declares nothing.
    return matches[0] if len(matches) == 1 else None


def boilerplate_cue(folded_sentence: str) -> tuple[CueCategory | None, float] | None:
    """When the sentence is leftover template instructions, the template's category and weight."""
    for regex, category, weight in _BOILERPLATE_REGEXES:
        if regex.search(folded_sentence):
            return category, weight
    return None


_TITLE_PREFIX: Final = re.compile(r"^(?:\s*\[[^\]]{1,40}\]\s*|\s*[\w./ -]{1,25}:\s+)+")
_TITLE_REGEXES: Final = tuple((re.compile(p), cat, w) for p, cat, w in TITLE_CUES)
_COMMENT_REGEXES: Final = tuple((re.compile(p), cat, w) for p, cat, w in COMMENT_CUES)


def detect_title_cues(folded_title: str) -> list[CueHit]:
    """Title-only cues (imperative "Add ...", "How to ..."), as hits with negative entry numbers."""
    hits: list[CueHit] = []
    # "[GSoC] Add ..." and "dnn: support ..." : component tags in front of the real title.
    stripped = _TITLE_PREFIX.sub("", folded_title)
    offset = len(folded_title) - len(stripped)
    for index, (regex, category, weight) in enumerate(_TITLE_REGEXES):
        found = regex.search(stripped)
        if found:
            hits.append(CueHit(category, weight, -1 - index, offset + found.start(), offset + found.end()))
    return hits


def comment_cues(folded_comment: str) -> list[tuple[CueCategory, float]]:
    """Template markers found in an HTML comment, at most once per category."""
    found: dict[CueCategory, float] = {}
    for regex, category, weight in _COMMENT_REGEXES:
        if regex.search(folded_comment):
            found[category] = max(found.get(category, 0.0), weight)
    return list(found.items())
