"""What the catalogue works on: mentions, requests, and how a mention was linked."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from rapidfuzz.utils import default_process

from headway_assets.core.warehouse.request_stats import TREND_DAYS, trend_of

# How a mention came to be in its request (feature_request_mentions.match_method).
METHOD_NEW = "new"  # it founded the request
METHOD_TITLE = "title_similarity"  # near-identical title: linked without asking the matcher
METHOD_AI = "ai_match"  # the matcher (offline or LLM) said same ask
METHOD_PINNED = "pinned"  # a person put it there


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
    quote: str = ""
    message_id: int | None = None

    @property
    def order_key(self) -> tuple[datetime, str, str, int]:
        """Canonical order: independent of row ids, which depend on materialisation order."""
        return (self.sent_at, self.source, self.external_id, self.ordinal)


@dataclass
class RequestState:
    """A catalogue request as the linker sees it: its text, and the mentions it gained this run.

    `id` is the warehouse id of a stored request (None for one founded in this run); `key` is
    its stable key. `examples` are other member titles, shown to the matcher.
    """

    key: str
    org_id: int
    title: str
    description: str
    kind: str
    theme: str | None
    sub_theme: str | None
    id: int | None = None
    examples: list[str] = field(default_factory=list)
    # Normalised member wording -> the description of the mention that brought it: shown with the
    # wording, since a complaint's title rarely says what its description does.
    described: dict[str, str] = field(default_factory=dict)
    links: list[tuple[MentionRecord, str, float]] = field(default_factory=list)
    # When the ask was first seen: of two requests found to be one ask, the earlier one stays.
    first_seen: datetime | None = None
    # A person decided something about it (status, owner, title, place, pins): it is never
    # merged into another by the pipeline, and two such requests are never merged.
    decided: bool = False

    @property
    def rank(self) -> tuple[datetime, str]:
        """Which of two requests of one ask stays: the one first seen (then the smaller key)."""
        first = self.first_seen or min((m.sent_at for m in self.mentions), default=datetime.max.replace(tzinfo=UTC))
        return (first, self.key)

    @property
    def mentions(self) -> list[MentionRecord]:
        """The mentions linked to this request in this run (all of them when built from scratch)."""
        return [mention for mention, _, _ in self.links]


# The in-memory catalogue of `build_catalog` is a list of requests with every mention linked.
CatalogEntry = RequestState


@lru_cache(maxsize=1 << 16)  # the linker normalises each request's texts once per candidate offer
def normalise_title(title: str) -> str:
    """Lower-case words only, for comparing titles."""
    return str(default_process(title))


def entry_key(mention: MentionRecord) -> str:
    """A request's stable key, from the mention that founded it."""
    basis = (
        f"{mention.org_id}|{normalise_title(mention.title)}|{mention.source}|{mention.external_id}|{mention.ordinal}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def new_request(mention: MentionRecord) -> RequestState:
    """A request founded by `mention`, which is its first link."""
    request = RequestState(
        key=entry_key(mention),
        org_id=mention.org_id,
        title=mention.title,
        description=mention.description,
        kind=mention.kind,
        theme=mention.theme,
        sub_theme=mention.sub_theme,
        first_seen=mention.sent_at,
    )
    request.links.append((mention, METHOD_NEW, 1.0))
    return request


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


def entry_stats(entry: RequestState, as_of: datetime) -> EntryStats:
    """Counts and trend of one in-memory request, relative to `as_of` (the org's latest mention)."""
    times = [m.sent_at for m in entry.mentions]
    customers = sorted({m.customer for m in entry.mentions if m.customer})
    sources: dict[str, int] = defaultdict(int)
    for mention in entry.mentions:
        sources[mention.source] += 1
    window = timedelta(days=TREND_DAYS)
    last_7d = sum(1 for t in times if as_of - window < t <= as_of)
    prev_7d = sum(1 for t in times if as_of - 2 * window < t <= as_of - window)
    first_seen = min(times)
    return EntryStats(
        mention_count=len(times),
        customers=customers,
        sources=dict(sorted(sources.items())),
        first_seen=first_seen,
        last_seen=max(times),
        last_7d=last_7d,
        prev_7d=prev_7d,
        trend=trend_of(first_seen, last_7d, prev_7d, as_of),
    )
