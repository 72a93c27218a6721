"""De-duplicating feature mentions into canonical feature requests.

The rule is the seed system's: a mention whose title is at least 0.9 similar to a request's
title joins it at once; otherwise an AI match of at least 0.75 against the requests of the
same sub-theme links it; otherwise it starts a new request.

Order independence: the catalogue is rebuilt from all mentions, taken in a canonical order
(sent time, source, external id, position), so it is the same whether days were
materialised in order, in parallel, or in one backfill. Mentions of different sub-themes
never compete for the same candidates, so each sub-theme is built on its own (groups run
concurrently); then requests of different sub-themes whose titles are 0.9 similar are merged,
again in canonical order. Every AI answer is cached, so a rebuild over unchanged mentions
makes no calls.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher

from headway_assets.llm.tasks import AI_MATCH, MatchCandidate, MatchInput

TITLE_MATCH = 0.9  # title similarity that joins a request at once
MAX_CANDIDATES = 5  # requests shown to the matcher, most similar first
TREND_DAYS = 7

Matcher = Callable[[MatchInput], Awaitable[tuple[str | None, float]]]


@dataclass(frozen=True)
class MentionRecord:
    """A stored mention, with what the catalogue needs of it."""

    id: int
    org_id: int
    title: str
    description: str
    kind: str
    theme: str | None
    sub_theme: str | None
    customer: str | None
    source: str
    sent_at: datetime
    external_id: str
    ordinal: int

    @property
    def order_key(self) -> tuple[datetime, str, str, int]:
        """Canonical order: independent of row ids, which depend on materialisation order."""
        return (self.sent_at, self.source, self.external_id, self.ordinal)


@dataclass
class CatalogEntry:
    """A canonical request being built, and its mentions with how each was matched."""

    key: str
    org_id: int
    title: str
    description: str
    kind: str
    theme: str | None
    sub_theme: str | None
    links: list[tuple[MentionRecord, str, float]] = field(default_factory=list)

    @property
    def mentions(self) -> list[MentionRecord]:
        """The mentions of this request."""
        return [mention for mention, _, _ in self.links]


def normalise_title(title: str) -> str:
    """Lower-case words only, for comparing titles."""
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in title).split())


def title_similarity(left: str, right: str) -> float:
    """0..1 similarity of two titles (difflib ratio over normalised text)."""
    a, b = normalise_title(left), normalise_title(right)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def entry_key(mention: MentionRecord) -> str:
    """A request's stable key, from the mention that founded it."""
    basis = (
        f"{mention.org_id}|{normalise_title(mention.title)}|{mention.source}|{mention.external_id}|{mention.ordinal}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def _new_entry(mention: MentionRecord) -> CatalogEntry:
    entry = CatalogEntry(
        key=entry_key(mention),
        org_id=mention.org_id,
        title=mention.title,
        description=mention.description,
        kind=mention.kind,
        theme=mention.theme,
        sub_theme=mention.sub_theme,
    )
    entry.links.append((mention, "new", 1.0))
    return entry


async def _build_group(mentions: list[MentionRecord], matcher: Matcher) -> list[CatalogEntry]:
    """One (org, sub-theme) group, mentions in canonical order."""
    entries: list[CatalogEntry] = []
    for mention in mentions:
        scored = sorted(
            ((title_similarity(mention.title, entry.title), index) for index, entry in enumerate(entries)),
            key=lambda pair: (-pair[0], pair[1]),
        )
        if scored and scored[0][0] >= TITLE_MATCH:
            entries[scored[0][1]].links.append((mention, "title_similarity", round(scored[0][0], 4)))
            continue
        candidates = [entries[index] for _, index in scored[:MAX_CANDIDATES]]
        if candidates:
            match_input = MatchInput(
                title=mention.title,
                description=mention.description,
                sub_theme=mention.sub_theme,
                candidates=tuple(MatchCandidate(c.key, c.title, c.description) for c in candidates),
            )
            candidate_id, score = await matcher(match_input)
            chosen = next((c for c in candidates if c.key == candidate_id), None)
            if chosen is not None and score >= AI_MATCH:
                chosen.links.append((mention, "ai_match", round(score, 4)))
                continue
        entries.append(_new_entry(mention))
    return entries


def _merge_across_groups(entries: list[CatalogEntry]) -> list[CatalogEntry]:
    """Merge requests of different sub-themes whose titles are near-identical (earliest wins)."""
    ordered = sorted(entries, key=lambda e: (e.org_id, min(m.order_key for m in e.mentions)))
    kept: list[CatalogEntry] = []
    for entry in ordered:
        target = next(
            (
                k
                for k in kept
                if k.org_id == entry.org_id
                and k.sub_theme != entry.sub_theme
                and title_similarity(k.title, entry.title) >= TITLE_MATCH
            ),
            None,
        )
        if target is None:
            kept.append(entry)
            continue
        score = round(title_similarity(target.title, entry.title), 4)
        target.links.extend((mention, "title_similarity", score) for mention, _, _ in entry.links)
    for entry in kept:
        entry.links.sort(key=lambda link: link[0].order_key)
    return kept


async def build_catalog(mentions: list[MentionRecord], matcher: Matcher) -> list[CatalogEntry]:
    """The catalogue of all mentions given (any order in; canonical order used)."""
    groups: dict[tuple[int, str | None], list[MentionRecord]] = defaultdict(list)
    for mention in sorted(mentions, key=lambda m: (m.org_id, m.order_key)):
        groups[(mention.org_id, mention.sub_theme or mention.theme)].append(mention)
    built = await asyncio.gather(*(_build_group(group, matcher) for _, group in sorted(groups.items(), key=str)))
    return _merge_across_groups([entry for group in built for entry in group])


@dataclass(frozen=True)
class EntryStats:
    """What the API shows of a request: counts, customers, sources, first/last seen, trend."""

    mention_count: int
    customers: list[str]
    sources: dict[str, int]
    first_seen: datetime
    last_seen: datetime
    last_7d: int
    prev_7d: int
    trend: str


def entry_stats(entry: CatalogEntry, as_of: datetime) -> EntryStats:
    """Counts and trend of one request, relative to `as_of` (the org's latest mention)."""
    times = [m.sent_at for m in entry.mentions]
    customers = sorted({m.customer for m in entry.mentions if m.customer})
    sources: dict[str, int] = defaultdict(int)
    for mention in entry.mentions:
        sources[mention.source] += 1
    window = timedelta(days=TREND_DAYS)
    last_7d = sum(1 for t in times if as_of - window < t <= as_of)
    prev_7d = sum(1 for t in times if as_of - 2 * window < t <= as_of - window)
    first_seen = min(times)
    if first_seen > as_of - window:
        trend = "new"
    elif last_7d >= 2 and last_7d >= 2 * max(prev_7d, 1):
        trend = "rising"
    elif prev_7d >= 2 and last_7d * 2 <= prev_7d:
        trend = "falling"
    else:
        trend = "steady"
    return EntryStats(
        mention_count=len(times),
        customers=customers,
        sources=dict(sorted(sources.items())),
        first_seen=first_seen,
        last_seen=max(times),
        last_7d=last_7d,
        prev_7d=prev_7d,
        trend=trend,
    )
