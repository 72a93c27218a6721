"""`refresh_daily_stats`: the pre-aggregated counts the stats endpoint reads, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import DailyMessageStat, FeatureMention, Message, MessageLabel
from headway_assets.core.warehouse.stats import UNLABELLED, refresh_daily_stats, stats_days
from tests.api.support import People

DAY = datetime(2025, 3, 10, tzinfo=UTC)


def _message(org: int, index: int, sent_at: datetime, source: str = "slack") -> dict[str, Any]:
    return {
        "org_id": org, "source": source, "external_id": f"m{org}-{index}", "sent_at": sent_at, "text": "t",
        "text_length": 1, "content_hash": "h", "record_hash": "r", "source_metadata": {},
    }  # fmt: skip


def _label(
    message_id: int, org: int, category: str | None, relevance: int | None, status: str = "labelled"
) -> dict[str, Any]:
    return {
        "message_id": message_id, "org_id": org, "content_hash": "h", "status": status,
        "is_feedback": category not in (None, "other"), "category": category, "relevance": relevance,
        "chunk_count": 1, "provider": "offline", "model": "m", "prompt_version": "v1",
    }  # fmt: skip


def _rows(url: str) -> dict[tuple[int, date, str, str], tuple[int, int, int, int]]:
    with read_connection(url) as conn:
        rows = conn.execute(select(DailyMessageStat.__table__)).all()
    return {
        (r.org_id, r.day, r.source, r.category): (r.message_count, r.feedback_count, r.relevant_count, r.mention_count)
        for r in rows
    }


def test_counts_per_utc_day_source_and_category(database_url: str, people: People) -> None:
    acme, globex = people.orgs["acme"], people.orgs["globex"]
    moments = [
        (acme, DAY, "slack", "feature_request", 8),
        (acme, DAY + timedelta(hours=23, minutes=59, seconds=59), "slack", "feature_request", 3),
        (acme, DAY + timedelta(days=1), "slack", "bug_report", 9),  # midnight belongs to the next day
        (acme, DAY + timedelta(hours=5), "gmail", "other", 1),
        (acme, DAY + timedelta(hours=6), "gmail", None, None),  # no label yet
        (acme, DAY + timedelta(hours=7), "gmail", "failed", None),  # a failed label is not a category
        (globex, DAY + timedelta(hours=1), "slack", "praise", 2),
    ]
    with write_transaction(database_url) as conn:
        ids = []
        for index, (org, sent_at, source, category, relevance) in enumerate(moments):
            message_id = conn.execute(
                insert(Message).values(**_message(org, index, sent_at, source)).returning(Message.id)
            ).scalar_one()
            ids.append(message_id)
            if category == "failed":
                conn.execute(insert(MessageLabel).values(**_label(message_id, org, None, None, status="failed")))
            elif category is not None:
                conn.execute(insert(MessageLabel).values(**_label(message_id, org, category, relevance)))
        for ordinal in range(2):  # two mentions in the first message
            conn.execute(insert(FeatureMention).values(
                org_id=acme, message_id=ids[0], ordinal=ordinal, source="slack", sent_at=DAY, title="t",
                description="d", kind="feature_request", urgency="low", sentiment="neutral", evidence_quote="quote",
                evidence_start=0, provider="offline", model="m", prompt_version="v1",
            ))  # fmt: skip
        # The day is computed in UTC whatever the session's time zone.
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
        written = refresh_daily_stats(conn, TimeWindow(DAY, DAY + timedelta(days=2)))
    d0, d1 = DAY.date(), DAY.date() + timedelta(days=1)
    assert _rows(database_url) == {
        (acme, d0, "slack", "feature_request"): (2, 2, 1, 2),
        (acme, d0, "gmail", "other"): (1, 0, 0, 0),
        (acme, d0, "gmail", UNLABELLED): (2, 0, 0, 0),
        (acme, d1, "slack", "bug_report"): (1, 1, 1, 0),
        (globex, d0, "slack", "praise"): (1, 1, 0, 0),
    }
    assert written == 5


def test_refresh_rewrites_only_its_days_and_organisation(database_url: str, people: People) -> None:
    acme, globex = people.orgs["acme"], people.orgs["globex"]
    with write_transaction(database_url) as conn:
        for index, (org, offset) in enumerate(((acme, 0), (acme, 1), (globex, 0))):
            conn.execute(insert(Message).values(**_message(org, index, DAY + timedelta(days=offset, hours=3))))
        refresh_daily_stats(conn, TimeWindow(DAY, DAY + timedelta(days=2)))
        assert len(_rows_in(conn)) == 3
        # Day one's messages go away; refreshing only acme's first day leaves the rest alone.
        conn.execute(delete(Message).where(Message.sent_at < DAY + timedelta(days=1)))
        refresh_daily_stats(conn, TimeWindow(DAY + timedelta(hours=1), DAY + timedelta(hours=2)), org_id=acme)
        remaining = _rows_in(conn)
    assert sorted((org, day) for org, day, *_ in remaining) == [
        (acme, DAY.date() + timedelta(days=1)),
        (globex, DAY.date()),  # stale until globex's day is refreshed: it was not in scope
    ]


def _rows_in(conn: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in conn.execute(select(DailyMessageStat.org_id, DailyMessageStat.day, DailyMessageStat.source)).all()
    ]


def test_refresh_is_idempotent(database_url: str, people: People) -> None:
    with write_transaction(database_url) as conn:
        conn.execute(insert(Message).values(**_message(people.orgs["acme"], 0, DAY)))
        window = TimeWindow(DAY, DAY + timedelta(days=1))
        refresh_daily_stats(conn, window)
        first = _rows_in(conn)
        refresh_daily_stats(conn, window)
        assert _rows_in(conn) == first


def test_stats_days_cover_partial_days() -> None:
    assert stats_days(TimeWindow(DAY, DAY + timedelta(days=1))) == (DAY.date(), DAY.date())
    assert stats_days(TimeWindow(DAY + timedelta(hours=5), DAY + timedelta(days=1, hours=1))) == (
        DAY.date(),
        DAY.date() + timedelta(days=1),
    )
