"""Call intelligence: the call list's parameters, a call with its risks and reasons, and a
customer's health over time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from headway_api.schemas.common import (
    MAX_ID,
    RANGE_ERROR,
    IsoDate,
    ListParams,
    PageBase,
    UtcDatetime,
    check_range,
    page_example,
)

RiskLevel = Literal["low", "medium", "high"]
CallSource = Literal["gong", "fathom"]

_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 1234,
    "source": "gong",
    "title": "Globex renewal discussion",
    "sent_at": "2026-10-02T15:00:00Z",
    "url": "https://app.gong.io/call?id=123",
    "customer_id": 42,
    "customer_name": "Globex",
    "deal_risk": "medium",
    "churn_risk": "high",
    "expansion_potential": "low",
}
_REASON_EXAMPLE = {
    "reason": "The customer is evaluating alternatives.",
    "quote": "We're looking at other tools because of the outages.",
    "start": 812,
}
_DETAIL_EXAMPLE: dict[str, Any] = _SUMMARY_EXAMPLE | {
    "reasons": {"deal_risk": [], "churn_risk": [_REASON_EXAMPLE], "expansion_potential": []},
    "next_steps": [
        {"action": "send a recap email right after this call", "owner": "vendor", "quote": "I'll send a recap "
         "email right after this call.", "start": 4410}
    ],
    "provider": "anthropic",
    "model": "claude-haiku-4-5",
    "prompt_version": "call-v1",
    "assessed_at": "2026-10-03T02:00:00Z",
}  # fmt: skip


class CallListParams(ListParams):
    """Filters of GET /v1/calls (newest first, then by id)."""

    deal_risk: RiskLevel | None = Field(default=None, description="Only calls with this deal risk.")
    churn_risk: RiskLevel | None = Field(default=None, description="Only calls with this churn risk.")
    expansion_potential: RiskLevel | None = Field(default=None, description="Only calls with this expansion potential.")
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Only this customer's calls.")
    source: CallSource | None = Field(default=None, description="Only Gong or only Fathom calls.")
    since: UtcDatetime | None = Field(default=None, description="Held at or after (ISO 8601; UTC without a zone).")
    until: UtcDatetime | None = Field(default=None, description="Held before (exclusive).")

    @model_validator(mode="after")
    def _range(self) -> CallListParams:
        check_range(self.since, self.until)
        return self


class CallSummary(BaseModel):
    """A call as listed: its three levels and who it was with."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int = Field(description="The call's message id (GET /v1/messages/{id} has its transcript).")
    source: str
    title: str | None
    sent_at: datetime
    url: str | None
    customer_id: int | None = Field(description="The customer its participants resolved to; null when none.")
    customer_name: str | None
    deal_risk: RiskLevel = Field(description="Risk that an open deal or renewal slips, shrinks or is lost.")
    churn_risk: RiskLevel = Field(description="Risk that the customer leaves or stops using the product.")
    expansion_potential: RiskLevel = Field(description="Chance of more seats, teams or a higher plan.")


class CallPage(PageBase):
    """A page of calls."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_SUMMARY_EXAMPLE)]})

    items: list[CallSummary]


class CallReason(BaseModel):
    """Why a level was given, with the call's own words."""

    reason: str
    quote: str = Field(description="Verbatim from the transcript.")
    start: int = Field(description="Offset of the quote in the message text.")


class CallReasons(BaseModel):
    """The reasons of each dimension (empty for a low level)."""

    deal_risk: list[CallReason]
    churn_risk: list[CallReason]
    expansion_potential: list[CallReason]


class CallNextStep(BaseModel):
    """A follow-up agreed on the call."""

    action: str
    owner: Literal["vendor", "customer", "unknown"]
    quote: str = Field(description="Verbatim from the transcript.")
    start: int = Field(description="Offset of the quote in the message text.")


class CallDetail(CallSummary):
    """One call with its reasons, next steps and what assessed it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DETAIL_EXAMPLE]})

    reasons: CallReasons
    next_steps: list[CallNextStep]
    provider: str = Field(
        description="`local-heuristics` (the default) and `offline` answers come from cue-phrase heuristics, "
        "not a model; otherwise the LLM provider whose `model` assessed the call."
    )
    model: str
    prompt_version: str
    assessed_at: datetime


class LevelCounts(BaseModel):
    """Calls per level."""

    low: int = 0
    medium: int = 0
    high: int = 0


class CustomerHealthPoint(BaseModel):
    """A customer's health on one day (or week): 0-100, with what it was made from."""

    period_start: date
    score: float = Field(
        description="0-100: 70 is neutral; churn and deal risk lower it, expansion and praise raise it."
    )
    calls: int
    deal_risk: RiskLevel | None = Field(description="The period's worst; null without calls.")
    churn_risk: RiskLevel | None = Field(description="The period's worst; null without calls.")
    expansion_potential: RiskLevel | None = Field(description="The period's best; null without calls.")
    messages_positive: int
    messages_neutral: int
    messages_negative: int


class CustomerHealth(BaseModel):
    """A customer's call risks and health score over `[since, until]`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": 42,
                    "since": "2026-09-01",
                    "until": "2026-10-30",
                    "interval": "day",
                    "latest_score": 55.0,
                    "calls": 3,
                    "deal_risk": {"low": 2, "medium": 1, "high": 0},
                    "churn_risk": {"low": 1, "medium": 1, "high": 1},
                    "expansion_potential": {"low": 3, "medium": 0, "high": 0},
                    "points": [],
                }
            ]
        }
    )

    customer_id: int
    since: date
    until: date
    interval: Literal["day", "week"]
    latest_score: float | None = Field(description="The score of the last period with data; null without data.")
    calls: int = Field(description="Assessed calls of the customer in the range.")
    deal_risk: LevelCounts
    churn_risk: LevelCounts
    expansion_potential: LevelCounts
    points: list[CustomerHealthPoint] = Field(description="Periods with calls or summarised messages only.")


HEALTH_DEFAULT_DAYS = 90
HEALTH_MAX_DAYS = 731


class CustomerHealthParams(BaseModel):
    """The range and granularity of a customer's health."""

    model_config = ConfigDict(extra="forbid")

    since: IsoDate | None = Field(
        default=None, description=f"First UTC day; default {HEALTH_DEFAULT_DAYS} days to `until`."
    )
    until: IsoDate | None = Field(default=None, description="Last UTC day (inclusive); default today.")
    interval: Literal["day", "week"] = Field(default="day", description="`week`: means of the days of each ISO week.")

    @model_validator(mode="after")
    def _range(self) -> CustomerHealthParams:
        if self.since is not None and self.until is not None:
            if self.until < self.since:
                raise PydanticCustomError(RANGE_ERROR, "until must not be before since")
            if (self.until - self.since).days + 1 > HEALTH_MAX_DAYS:
                raise PydanticCustomError(RANGE_ERROR, f"range too long: at most {HEALTH_MAX_DAYS} days")
        return self
