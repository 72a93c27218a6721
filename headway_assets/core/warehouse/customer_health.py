"""Customer health per day: a 0-100 score from a customer's calls and its messages' sentiment.

A day's score starts at `BASE_SCORE` and moves by

- the mean, over the customer's calls that day, of each call's risk points: churn risk high -35,
  medium -15; deal risk high -15, medium -5; expansion potential high +15, medium +5;
- the sentiment of the customer's summarised messages that day (`message_insights`):
  `SENTIMENT_POINTS` x (positive - negative) / all summarised messages;

clamped to 0..100. A day with neither calls nor summarised messages has no row. The customer of a
call or message is its `message_authors` row. Rows are derived and recomputed whole per day
(`refresh_customer_health`), so re-running converges, and a removed message's day is recomputed
by the removal (`removals.archive_and_delete`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, insert, select

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.schema import (
    CallInsight,
    Customer,
    CustomerHealth,
    Message,
    MessageAuthor,
    MessageInsight,
    utc_now,
)

LEVELS: Final = ("low", "medium", "high")
BASE_SCORE: Final = 70.0
CHURN_POINTS: Final = {"high": -35.0, "medium": -15.0, "low": 0.0}
DEAL_POINTS: Final = {"high": -15.0, "medium": -5.0, "low": 0.0}
EXPANSION_POINTS: Final = {"high": 15.0, "medium": 5.0, "low": 0.0}
SENTIMENT_POINTS: Final = 20.0


def call_points(deal_risk: str, churn_risk: str, expansion_potential: str) -> float:
    """How much one call moves its customer's score that day (before averaging over the day's calls)."""
    return (
        CHURN_POINTS.get(churn_risk, 0.0)
        + DEAL_POINTS.get(deal_risk, 0.0)
        + EXPANSION_POINTS.get(expansion_potential, 0.0)
    )


@dataclass
class _Day:
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=lambda: {"positive": 0, "neutral": 0, "negative": 0})

    def score(self) -> float:
        points = BASE_SCORE
        if self.calls:
            points += sum(call_points(*call) for call in self.calls) / len(self.calls)
        summarised = sum(self.sentiment.values())
        if summarised:
            points += SENTIMENT_POINTS * (self.sentiment["positive"] - self.sentiment["negative"]) / summarised
        return round(min(100.0, max(0.0, points)), 1)


def _worst(levels: Iterable[str]) -> str | None:
    ranked = [LEVELS.index(level) for level in levels if level in LEVELS]
    return LEVELS[max(ranked)] if ranked else None


def _day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def health_rows(conn: Connection, window: TimeWindow, org_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The `customer_health` rows of every day of `window` (of `org_ids` only, when given)."""
    orgs = sorted(set(org_ids)) if org_ids is not None else None
    days: dict[tuple[int, int, date], _Day] = defaultdict(_Day)
    in_window = and_(Message.sent_at >= window.start, Message.sent_at < window.end)
    resolved = and_(MessageAuthor.message_id == Message.id, MessageAuthor.customer_id.is_not(None))
    calls = (
        select(
            Message.org_id,
            MessageAuthor.customer_id,
            Message.sent_at,
            CallInsight.deal_risk,
            CallInsight.churn_risk,
            CallInsight.expansion_potential,
        )
        .join(CallInsight, CallInsight.message_id == Message.id)
        .join(MessageAuthor, resolved)
        .join(Customer, Customer.id == MessageAuthor.customer_id)  # one a merge or delete left behind is skipped
        .where(in_window)
    )
    sentiments = (
        select(Message.org_id, MessageAuthor.customer_id, Message.sent_at, MessageInsight.sentiment)
        .join(MessageInsight, MessageInsight.message_id == Message.id)
        .join(MessageAuthor, resolved)
        .join(Customer, Customer.id == MessageAuthor.customer_id)
        .where(in_window)
    )
    if orgs is not None:
        calls = calls.where(Message.org_id.in_(orgs))
        sentiments = sentiments.where(Message.org_id.in_(orgs))
    for org_id, customer_id, sent_at, deal, churn, expansion in conn.execute(calls):
        days[org_id, customer_id, sent_at.astimezone(UTC).date()].calls.append((deal, churn, expansion))
    for org_id, customer_id, sent_at, sentiment in conn.execute(sentiments):
        day = days[org_id, customer_id, sent_at.astimezone(UTC).date()]
        if sentiment in day.sentiment:
            day.sentiment[sentiment] += 1
    now = utc_now()
    return [
        {
            "org_id": org_id,
            "customer_id": customer_id,
            "day": day,
            "score": figures.score(),
            "calls": len(figures.calls),
            "deal_risk": _worst(call[0] for call in figures.calls),
            "churn_risk": _worst(call[1] for call in figures.calls),
            # The day's best expansion potential: "worst" of the ranking low < medium < high.
            "expansion_potential": _worst(call[2] for call in figures.calls),
            "messages_positive": figures.sentiment["positive"],
            "messages_neutral": figures.sentiment["neutral"],
            "messages_negative": figures.sentiment["negative"],
            "computed_at": now,
        }
        for (org_id, customer_id, day), figures in sorted(days.items())
    ]


def refresh_customer_health(conn: Connection, window: TimeWindow, org_ids: Iterable[int] | None = None) -> int:
    """Recompute the health rows of every whole UTC day `window` touches, in the caller's transaction
    (of `org_ids` only, when given); returns how many rows the days now have."""
    orgs = sorted(set(org_ids)) if org_ids is not None else None
    first = window.start.astimezone(UTC).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(UTC).date()
    whole = TimeWindow(start=_day_window(first)[0], end=_day_window(last)[1])
    rows = health_rows(conn, whole, orgs)
    stale = delete(CustomerHealth).where(CustomerHealth.day >= first, CustomerHealth.day <= last)
    if orgs is not None:
        stale = stale.where(CustomerHealth.org_id.in_(orgs))
    conn.execute(stale)
    if rows:
        conn.execute(insert(CustomerHealth), rows)
    return len(rows)
