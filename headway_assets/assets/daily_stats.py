"""`daily_message_stats`: the per-day counts the read API's dashboards sum instead of scanning messages."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import func, select

from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.metadata import markdown_table
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.core.warehouse.schema import DailyMessageStat, Message
from headway_assets.core.warehouse.stats import refresh_daily_stats, stats_days
from headway_assets.resources.warehouse import WarehouseResource

SERVING_GROUP = "serving"
CHECK_COUNTS_MATCH = "counts_match_messages"


@dg.asset(
    name="daily_message_stats",
    description="Messages, feedback, relevant messages and feature mentions per organisation, UTC day, source "
    "and tier-1 category: what GET /v1/stats serves. Rewritten whole days at a time, in one transaction.",
    group_name=SERVING_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[feature_mentions],
    automation_condition=FOLLOW_UPSTREAM,
    kinds={"sql"},
    owners=OWNERS,
    tags={"layer": "serving"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_COUNTS_MATCH,
            asset="daily_message_stats",
            description="The stats of the partition's days add up to the messages stored for those days.",
        )
    ],
)
def daily_message_stats(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Recompute the stats rows of the partition's days."""
    window = partition_window(context)
    with warehouse.write() as conn:
        written = refresh_daily_stats(conn, window)
    first, last = stats_days(window)
    with warehouse.read() as conn:
        totals = conn.execute(
            select(
                DailyMessageStat.source,
                func.sum(DailyMessageStat.message_count),
                func.sum(DailyMessageStat.feedback_count),
                func.sum(DailyMessageStat.mention_count),
            )
            .where(DailyMessageStat.day >= first, DailyMessageStat.day <= last)
            .group_by(DailyMessageStat.source)
            .order_by(DailyMessageStat.source)
        ).all()
        start = datetime.combine(first, time(0), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        stored = conn.execute(
            select(func.count()).select_from(Message).where(Message.sent_at >= start, Message.sent_at < end)
        ).scalar_one()
    counted = sum(int(row[1] or 0) for row in totals)
    metadata: dict[str, Any] = {
        "partition": partition_label(context),
        "dagster/row_count": written,
        "days": (last - first).days + 1,
        "by_source": dg.MetadataValue.md(
            markdown_table(["source", "messages", "feedback", "mentions"], [tuple(row) for row in totals])
        ),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_COUNTS_MATCH,
                passed=counted == stored,
                metadata={"messages_stored": int(stored), "messages_in_stats": counted},
            )
        ],
    )
