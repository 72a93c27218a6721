"""Stats response models: message and mention counts over time, for dashboards."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from headway_api.schemas.common import IsoDate
from headway_assets.sources.registry import SourceName

TOP_N = 10  # themes and customers listed
TIMELINE_DAYS = 30

_COUNTS_EXAMPLE: JsonDict = {"messages": 120, "feedback": 41, "relevant": 18, "mentions": 22}
_POINT_EXAMPLE: JsonDict = {
    "period_start": "2025-03-01",
    **_COUNTS_EXAMPLE,
    "by_source": {"slack": 80, "gmail": 40},
    "by_category": {"feature_request": 15, "bug_report": 9, "other": 96},
}


class StatsCounts(BaseModel):
    """Counts of messages, feedback, relevant messages (relevance >= 6) and feature mentions."""

    model_config = ConfigDict(json_schema_extra={"examples": [_COUNTS_EXAMPLE]})

    messages: int = 0
    feedback: int = 0
    relevant: int = 0
    mentions: int = 0


class StatsPoint(StatsCounts):
    """The counts of one period, with its messages split by source and by tier-1 category."""

    model_config = ConfigDict(json_schema_extra={"examples": [_POINT_EXAMPLE]})

    period_start: date
    by_source: dict[str, int] = Field(description="Messages per source.")
    by_category: dict[str, int] = Field(description="Messages per tier-1 category (`unlabelled` too).")


class LlmSpendMonth(BaseModel):
    """One calendar month of the organisation's LLM spend (its share of each run's calls)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "month": "2025-03",
                    "calls": 41,
                    "cache_hits": 120,
                    "input_tokens": 310_000,
                    "output_tokens": 52_000,
                    "cache_read_tokens": 90_000,
                    "cache_write_tokens": 4_000,
                    "cost_usd": 1.742,
                }
            ]
        }
    )

    month: str = Field(description="YYYY-MM (UTC).")
    calls: int
    cache_hits: int = Field(description="Items answered from the cache, at no cost.")
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float = Field(description="Estimated at the list prices Headway knows (HEADWAY_LLM_PRICES).")


class ThemeCount(BaseModel):
    """A theme and the feature mentions filed under it in the range."""

    theme: str = Field(description="Theme path in the organisation's taxonomy.")
    mentions: int


class CustomerAsking(BaseModel):
    """A customer whose people asked for something in the range."""

    id: int = Field(description="The customer (`/v1/customers/{id}`).")
    name: str
    arr: float | None
    segment: str | None
    mentions: int = Field(description="Feature mentions of the range its people wrote.")


class TimelineDay(BaseModel):
    """One UTC day of the 30-day timeline: messages per source."""

    day: date
    by_source: dict[str, int] = Field(description="Messages per source (sources without any are left out).")


class RiskLevelCounts(BaseModel):
    """Calls per level."""

    low: int = 0
    medium: int = 0
    high: int = 0


class RiskDistribution(BaseModel):
    """Assessed calls of the range counted by level of each dimension (call intelligence)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "calls": 12,
                    "deal_risk": {"low": 7, "medium": 4, "high": 1},
                    "churn_risk": {"low": 9, "medium": 2, "high": 1},
                    "expansion_potential": {"low": 8, "medium": 3, "high": 1},
                }
            ]
        }
    )

    calls: int
    deal_risk: RiskLevelCounts
    churn_risk: RiskLevelCounts
    expansion_potential: RiskLevelCounts


class StatsResponse(BaseModel):
    """Counts over `[since, until]` (UTC days): totals, breakdowns and a series per interval."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2025-03-01",
                    "until": "2025-03-01",
                    "interval": "day",
                    "totals": _COUNTS_EXAMPLE,
                    "by_source": {"slack": {"messages": 80, "feedback": 30, "relevant": 12, "mentions": 15}},
                    "by_category": {
                        "feature_request": {"messages": 15, "feedback": 15, "relevant": 12, "mentions": 18}
                    },
                    "series": [_POINT_EXAMPLE],
                    "refreshed_at": "2025-03-02T02:00:00Z",
                    "llm_spend": [],
                    "sentiment": {"negative": 4, "neutral": 10, "positive": 3},
                    "top_themes": [{"theme": "reporting", "mentions": 12}],
                    "top_customers": [
                        {"id": 42, "name": "Globex", "arr": 120000.0, "segment": "enterprise", "mentions": 5}
                    ],
                    "timeline": [{"day": "2025-03-01", "by_source": {"slack": 80, "gmail": 40}}],
                    "risk_distribution": {
                        "calls": 0,
                        "deal_risk": {"low": 0, "medium": 0, "high": 0},
                        "churn_risk": {"low": 0, "medium": 0, "high": 0},
                        "expansion_potential": {"low": 0, "medium": 0, "high": 0},
                    },
                }
            ]
        }
    )

    since: date
    until: date
    interval: str = Field(description="day | week (starting Monday) | month")
    totals: StatsCounts
    by_source: dict[str, StatsCounts]
    by_category: dict[str, StatsCounts]
    series: list[StatsPoint] = Field(description="One point per interval in the range, zeros included.")
    refreshed_at: datetime | None = Field(
        description="When the oldest of these counts was computed (null: no data in the range)."
    )
    llm_spend: list[LlmSpendMonth] = Field(
        description="What the organisation's AI work cost per calendar month (UTC) of the range, at list prices; "
        "only months with spend."
    )
    # --- What a dashboard draws (issue 16, item 7), each over [since, until] and `source` when given. ---
    sentiment: dict[str, int] = Field(
        description="Relevant messages of the range per sentiment of their insight (positive | neutral | negative)."
    )
    top_themes: list[ThemeCount] = Field(description=f"The {TOP_N} themes with the most feature mentions, most first.")
    top_customers: list[CustomerAsking] = Field(
        description=f"The {TOP_N} customers with the highest ARR whose people asked for something in the range"
        " (feature mentions resolved to them), highest first; customers without ARR last."
    )
    timeline: list[TimelineDay] = Field(
        description=f"The {TIMELINE_DAYS} days up to `until`, one point a day, messages per source (whatever"
        " `interval` is)."
    )
    # The risk distribution of call intelligence (issue 16, item 5) is added here by its own change.
    risk_distribution: RiskDistribution = Field(
        description="Assessed Gong and Fathom calls of the range by deal risk, churn risk and expansion potential."
    )


Interval = Literal["day", "week", "month"]
StatsCategory = Literal["feature_request", "bug_report", "pain_point", "praise", "question", "other", "unlabelled"]
DEFAULT_DAYS = 30


class StatsParams(BaseModel):
    """The range, granularity and filters of the stats."""

    model_config = ConfigDict(extra="forbid")

    since: IsoDate | None = Field(
        default=None, description=f"First UTC day; default: {DEFAULT_DAYS} days up to `until`."
    )
    until: IsoDate | None = Field(default=None, description="Last UTC day (inclusive); default: today.")
    interval: Interval = Field(default="day", description="Series granularity (weeks start on Monday).")
    source: SourceName | None = Field(default=None, description="Only this source.")
    category: StatsCategory | None = Field(default=None, description="Only this tier-1 category.")
