"""Competitors: the list's parameters, a competitor with its mention counts and trend, its detail
(the asks that come up in the same messages, its latest mentions) and the writes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from headway_api.schemas.common import SINGLE_LINE, ListParams, PageBase, page_example, text_filter
from headway_assets.core.kinds import CompetitorContext
from headway_assets.core.warehouse.competitors import MAX_ALIASES, NAME_MAX

MAX_DETAIL_ASKS = 20
MAX_DETAIL_MENTIONS = 20

_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "name": "Metricly",
    "aliases": ["Metricly Cloud"],
    "mention_count": 12,
    "contexts": {"comparison": 5, "pricing": 3, "switching_to": 4},
    "first_seen": "2026-10-02T09:30:00Z",
    "last_seen": "2026-10-29T16:20:00Z",
    "mentions_last_7d": 5,
    "mentions_prev_7d": 2,
    "trend": "rising",
    "created_at": "2026-10-01T08:00:00Z",
    "updated_at": "2026-10-01T08:00:00Z",
}
_DETAIL_EXAMPLE: dict[str, Any] = _SUMMARY_EXAMPLE | {
    "asks": [
        {
            "id": 42,
            "title": "Schedule PDF exports of dashboards",
            "kind": "feature_request",
            "status": "new",
            "theme": "reporting",
            "sub_theme": "reporting/exports",
            "shared_messages": 4,
        }
    ],
    "recent_mentions": [
        {
            "message_id": 1234,
            "source": "slack",
            "sent_at": "2026-10-29T16:20:00Z",
            "context": "comparison",
            "evidence_quote": "Metricly already does this out of the box.",
            "feature_request_id": 42,
        }
    ],
}
Trend = Literal["new", "rising", "steady", "falling"]


class CompetitorListParams(ListParams):
    """Filters of GET /v1/competitors (ordered by name, then id)."""

    q: str | None = text_filter("Only competitors whose name contains this text (case-insensitive).", NAME_MAX)


class CompetitorSummary(BaseModel):
    """A competitor with how often customers name it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int
    name: str
    aliases: list[str] = Field(description="Other names customers use for it; tier-2 looks for them too.")
    mention_count: int = Field(description="Messages that name it (any context).")
    contexts: dict[CompetitorContext, int] = Field(description="Messages that name it, per context.")
    first_seen: datetime | None
    last_seen: datetime | None
    mentions_last_7d: int = Field(description="Messages naming it in the 7 days up to the organisation's latest ask.")
    mentions_prev_7d: int = Field(description="The same count for the 7 days before.")
    trend: Trend = Field(description="new, rising, steady or falling: the feature requests' rule on these counts.")
    created_at: datetime
    updated_at: datetime


class CompetitorPage(PageBase):
    """A page of competitors."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_SUMMARY_EXAMPLE)]})

    items: list[CompetitorSummary]


class CompetitorAsk(BaseModel):
    """A feature request asked in messages that also name the competitor."""

    id: int
    title: str
    kind: str
    status: str
    theme: str | None
    sub_theme: str | None
    shared_messages: int = Field(description="Messages that name the competitor and hold this ask.")


class CompetitorMentionItem(BaseModel):
    """One message's mention of the competitor, with its verbatim evidence."""

    message_id: int
    source: str
    sent_at: datetime
    context: CompetitorContext
    evidence_quote: str
    feature_request_id: int | None = Field(
        description="The feature request of the message's ask nearest the quote, when the message has one."
    )


class CompetitorDetail(CompetitorSummary):
    """One competitor with the asks that co-occur with it and its latest mentions."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DETAIL_EXAMPLE]})

    asks: list[CompetitorAsk] = Field(
        description=f"Up to {MAX_DETAIL_ASKS} feature requests asked in messages naming the competitor,"
        " most shared first."
    )
    recent_mentions: list[CompetitorMentionItem] = Field(description=f"The latest {MAX_DETAIL_MENTIONS} mentions.")


Alias = Annotated[str, StringConstraints(max_length=NAME_MAX, pattern=SINGLE_LINE)]
_NAME = Field(max_length=NAME_MAX, pattern=SINGLE_LINE, description="The competitor's name as the team calls it.")


class CompetitorCreate(BaseModel):
    """A new competitor."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Metricly", "aliases": ["Metricly Cloud"]}]}
    )

    name: str = _NAME
    aliases: list[Alias] = Field(
        default_factory=list,
        max_length=MAX_ALIASES,
        description="Other names customers use (at least 2 characters each; no other competitor's name).",
    )


class CompetitorPatch(BaseModel):
    """Fields to change; omitted ones stay. `aliases` replaces the whole set."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"aliases": ["Metricly", "MTR"]}]})

    name: str | None = Field(default=None, max_length=NAME_MAX, pattern=SINGLE_LINE)
    aliases: list[Alias] | None = Field(default=None, max_length=MAX_ALIASES)


class CompetitorDeleted(BaseModel):
    """What a delete removed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 7, "name": "Metricly", "mentions_removed": 12}]})

    id: int
    name: str
    mentions_removed: int = Field(description="Its recorded mentions, deleted with it.")
