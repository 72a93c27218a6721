"""Notification subscriptions: a Slack channel told about one theme's signals (or every theme's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from headway_api.schemas.common import SINGLE_LINE, PageBase, page_example

SignalName = Literal["new_requests", "rising_requests", "high_risk_calls", "weekly_digest"]
_SIGNALS_DESCRIPTION = (
    "What the channel hears: `new_requests` (a request first asked within the last 7 days, once), "
    "`rising_requests` (its mentions at least doubled week on week, at most once a week), `high_risk_calls` "
    "(calls scored high for deal or churn risk) and `weekly_digest` (Mondays 09:00 UTC)."
)
_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "theme": "reporting",
    "channel_id": "C0123456789",
    "signals": ["new_requests", "rising_requests", "weekly_digest"],
    "is_active": True,
    "created_by": "ana@acme.example",
    "created_at": "2026-12-07T09:30:00Z",
    "updated_at": "2026-12-07T09:30:00Z",
}


class NotificationSubscription(BaseModel):
    """A Slack channel subscribed to a theme's signals."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: int
    theme: str | None = Field(description="Theme or sub-theme path of your taxonomy; null: every theme.")
    channel_id: str = Field(description="The Slack channel's id (C... or G...).")
    signals: list[SignalName] = Field(description=_SIGNALS_DESCRIPTION)
    is_active: bool = Field(description="False: nothing is posted until it is active again.")
    created_by: str
    created_at: datetime
    updated_at: datetime


class NotificationSubscriptionPage(PageBase):
    """Every subscription of your organisation (one page)."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_EXAMPLE, None)]})

    items: list[NotificationSubscription]


class SubscriptionFields(BaseModel):
    """What a subscription says; checked against your taxonomy."""

    model_config = ConfigDict(extra="forbid")

    theme: str | None = Field(
        default=None, max_length=200, pattern=SINGLE_LINE, description="Theme or sub-theme path; null: every theme."
    )
    signals: list[SignalName] | None = Field(default=None, min_length=1, max_length=4, description=_SIGNALS_DESCRIPTION)
    is_active: StrictBool | None = Field(default=None, description="False: nothing is posted until it is true again.")


class SubscriptionCreate(SubscriptionFields):
    """A new subscription: every signal unless `signals` names some."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"channel_id": "C0123456789", "theme": "reporting", "signals": ["new_requests", "weekly_digest"]}
            ]
        },
    )

    channel_id: str = Field(max_length=32, pattern=SINGLE_LINE, description="The Slack channel's id (C... or G...).")


class SubscriptionPatch(SubscriptionFields):
    """Fields to change; omitted ones stay. `theme: null` means every theme."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"signals": ["weekly_digest"], "is_active": False}]}
    )

    channel_id: str | None = Field(default=None, max_length=32, pattern=SINGLE_LINE)
