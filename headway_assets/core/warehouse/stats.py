"""The dashboards' pre-aggregated message stats (`daily_message_stats`), refreshed by the pipeline.

The read API's stats endpoint sums these rows instead of scanning `messages`. A refresh rewrites
whole UTC days in one transaction, so a reader sees a day's old counts or its new ones, never a mix.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Date, and_, case, cast, delete, func, insert, literal, select
from sqlalchemy.sql.elements import ColumnElement

from headway_assets.core.kinds import RELEVANCE_THRESHOLD
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.schema import (
    DailyMessageStat,
    FeatureMention,
    LabelStatus,
    Message,
    MessageLabel,
    utc_now,
)

# The category of a message with no labelled tier-1 outcome yet (not labelled, skipped or failed).
UNLABELLED = "unlabelled"


def stats_days(window: TimeWindow) -> tuple[date, date]:
    """The UTC days `[first, last]` a window touches (a refresh rewrites whole days)."""
    first = window.start.astimezone(UTC).date()
    end = window.end.astimezone(UTC)
    last = end.date() if end.time() != time(0) else end.date() - timedelta(days=1)
    return first, max(first, last)


def utc_day(conn: Connection, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on either backend (see `as_date`)."""
    # SQLite keeps UTC timestamps as naive text, so date() is the UTC day; PostgreSQL needs
    # the zone spelled out, whatever the session's TimeZone is.
    if conn.dialect.name == "sqlite":
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def as_date(value: Any) -> date:
    """A `utc_day` value as a date (SQLite returns text, PostgreSQL a date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def refresh_daily_stats(conn: Connection, window: TimeWindow, *, org_id: int | None = None) -> int:
    """Recompute `daily_message_stats` for every UTC day `window` touches; returns the rows written.

    Run it inside the transaction that wrote the messages, labels or mentions of those days (or
    right after). `org_id` limits the refresh to one organisation; by default every organisation
    is refreshed. Days with no messages end up with no rows.
    """
    first_day, last_day = stats_days(window)
    start = datetime.combine(first_day, time(0), tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=UTC)

    labelled = MessageLabel.status == LabelStatus.LABELLED.value
    category = case(
        (and_(labelled, MessageLabel.category.is_not(None)), MessageLabel.category), else_=literal(UNLABELLED)
    )
    day = utc_day(conn, Message.sent_at)
    in_window = [Message.sent_at >= start, Message.sent_at < end]
    if org_id is not None:
        in_window.append(Message.org_id == org_id)

    message_rows = conn.execute(
        select(
            Message.org_id,
            day.label("day"),
            Message.source,
            category.label("category"),
            func.count().label("messages"),
            func.sum(case((and_(labelled, MessageLabel.is_feedback.is_(True)), 1), else_=0)).label("feedback"),
            func.sum(case((and_(labelled, MessageLabel.relevance >= RELEVANCE_THRESHOLD), 1), else_=0)).label(
                "relevant"
            ),
        )
        .select_from(Message)
        .outerjoin(MessageLabel, MessageLabel.message_id == Message.id)
        .where(*in_window)
        .group_by(Message.org_id, day, Message.source, category)
    ).all()
    mention_rows = conn.execute(
        select(
            Message.org_id,
            day.label("day"),
            Message.source,
            category.label("category"),
            func.count(FeatureMention.id).label("mentions"),
        )
        .select_from(FeatureMention)
        .join(Message, Message.id == FeatureMention.message_id)
        .outerjoin(MessageLabel, MessageLabel.message_id == Message.id)
        .where(*in_window)
        .group_by(Message.org_id, day, Message.source, category)
    ).all()

    refreshed_at = utc_now()
    rows: dict[tuple[int, date, str, str], dict[str, Any]] = {}
    for row in message_rows:
        key = (int(row.org_id), as_date(row.day), row.source, row.category)
        rows[key] = {
            "org_id": key[0],
            "day": key[1],
            "source": key[2],
            "category": key[3],
            "message_count": int(row.messages),
            "feedback_count": int(row.feedback or 0),
            "relevant_count": int(row.relevant or 0),
            "mention_count": 0,
            "refreshed_at": refreshed_at,
        }
    for row in mention_rows:
        key = (int(row.org_id), as_date(row.day), row.source, row.category)
        if key in rows:  # a mention always has its message, so its group exists
            rows[key]["mention_count"] = int(row.mentions)

    scope = [DailyMessageStat.day >= first_day, DailyMessageStat.day <= last_day]
    if org_id is not None:
        scope.append(DailyMessageStat.org_id == org_id)
    conn.execute(delete(DailyMessageStat).where(*scope))
    if rows:
        conn.execute(insert(DailyMessageStat), list(rows.values()))
    return len(rows)
