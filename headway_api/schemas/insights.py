"""Period insight response models (the `content` document written by the insights asset)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import JsonDict

from headway_api.schemas.common import ListParams, PageBase, UtcDatetime, check_range, page_example

_QUOTE_EXAMPLE: JsonDict = {
    "message_id": 1234,
    "quote": "Could we export the weekly report as a PDF?",
    "customer": "Acme Inc.",
    "source": "slack",
}
_ASK_EXAMPLE: JsonDict = {
    "feature_request_id": 17,
    "title": "Export weekly report as PDF",
    "mentions": 6,
    "customers": 4,
    "quotes": [_QUOTE_EXAMPLE],
}
_INSIGHT_EXAMPLE: JsonDict = {
    "id": 3,
    "period": "week",
    "period_start": "2025-02-24T00:00:00Z",
    "period_end": "2025-03-03T00:00:00Z",
    "headline": "PDF export of reports is rising: 6 mentions from 4 customers.",
    "content": {
        "top_asks": [_ASK_EXAMPLE],
        "new_asks": [],
        "rising_asks": [_ASK_EXAMPLE],
        "by_source": {"slack": {"mentions": 14, "customers": 5}},
        "by_customer": [{"customer": "Acme Inc.", "mentions": 5}],
    },
    "created_at": "2025-03-03T02:00:00Z",
}


class InsightQuote(BaseModel):
    """Evidence for an ask: a verbatim quote and the message it came from."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_QUOTE_EXAMPLE]})

    message_id: int
    quote: str
    customer: str | None = None
    source: str | None = None


class InsightAsk(BaseModel):
    """A feature request as it stood in the period."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_ASK_EXAMPLE]})

    feature_request_id: int
    title: str
    mentions: int = Field(description="Mentions in the period.")
    customers: int = Field(description="Distinct customers in the period.")
    quotes: list[InsightQuote] = Field(default_factory=list)


class InsightSourceCounts(BaseModel):
    """One source's share of the period's asks."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"mentions": 14, "customers": 5}]})

    mentions: int = Field(description="Mentions from this source in the period.")
    customers: int | None = Field(
        default=None,
        description="Distinct customers who asked through this source (absent in older insights).",
        exclude_if=lambda value: value is None,
    )


class PeriodInsightContent(BaseModel):
    """Top, new and rising asks of the period, with breakdowns by source and by customer.

    `by_source` has an object per source (mentions, customers); `by_customer` keeps whatever
    fields the pipeline writes (counts, asks).
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_INSIGHT_EXAMPLE["content"]]})

    top_asks: list[InsightAsk] = Field(default_factory=list)
    new_asks: list[InsightAsk] = Field(default_factory=list)
    rising_asks: list[InsightAsk] = Field(default_factory=list)
    by_source: dict[str, InsightSourceCounts] = Field(default_factory=dict)
    by_customer: list[dict[str, object]] = Field(default_factory=list)

    @field_validator("by_source", mode="before")
    @classmethod
    def _bare_counts(cls, value: object) -> object:
        # Insights written before the pipeline wrote an object per source hold a bare count
        # (`{"slack": 11}`); they are served in today's shape rather than failing the request.
        if isinstance(value, dict):
            return {
                source: {"mentions": counts} if isinstance(counts, int) and not isinstance(counts, bool) else counts
                for source, counts in value.items()
            }
        return value


class PeriodInsightOut(BaseModel):
    """An organisation's insights for one week or month."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INSIGHT_EXAMPLE]})

    id: int
    period: str = Field(description="week | month")
    period_start: datetime
    period_end: datetime
    headline: str
    content: PeriodInsightContent
    created_at: datetime


class PeriodInsightPage(PageBase):
    """One page of period insights, newest period first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_INSIGHT_EXAMPLE)]})

    items: list[PeriodInsightOut]


class InsightListParams(ListParams):
    """Filters of the period insights (they apply to `period_start`)."""

    limit: int = Field(default=20, ge=1, le=50, description="Page size, 1-50 (insights are large).")
    period: Literal["week", "month"] | None = Field(default=None, description="Only weekly or monthly insights.")
    since: UtcDatetime | None = Field(default=None, description="Periods starting at or after this time.")
    until: UtcDatetime | None = Field(default=None, description="Periods starting before this time.")
    sort: Literal["-period_start", "period_start"] = Field(default="-period_start", description="Newest first.")

    @model_validator(mode="after")
    def _range(self) -> InsightListParams:
        check_range(self.since, self.until)
        return self
