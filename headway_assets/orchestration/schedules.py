"""Schedules: the periodic sync of today's raw partitions, and the nightly close of yesterday."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import select

from headway_assets.core.warehouse.schema import ConnectionKind, Organization, SourceConnection
from headway_assets.orchestration.jobs import PIPELINE_JOB, RAW_SYNC_JOB
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.registry import raw_messages_asset_name

# The system Headway replaces synced every 15 minutes; HEADWAY_PERIODIC_SYNC_CRON changes it.
PERIODIC_SYNC_CRON = os.environ.get("HEADWAY_PERIODIC_SYNC_CRON", "*/15 * * * *")
DAILY_CLOSE_CRON = "30 0 * * *"  # 00:30 UTC: yesterday is over, late arrivals have landed


def _day_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def sources_with_live_connections(warehouse: WarehouseResource) -> list[str]:
    """Sources that have at least one active live (API) connection of an active organisation."""
    with warehouse.read() as conn:
        rows = conn.execute(
            select(SourceConnection.source)
            .join(Organization, Organization.id == SourceConnection.org_id)
            .where(
                SourceConnection.is_active.is_(True),
                Organization.is_active.is_(True),
                SourceConnection.kind == ConnectionKind.API.value,
            )
            .distinct()
        )
        return sorted(row.source for row in rows)


@dg.schedule(
    name="periodic_sync",
    cron_schedule=PERIODIC_SYNC_CRON,
    execution_timezone="UTC",
    job=RAW_SYNC_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"On `{PERIODIC_SYNC_CRON}` (every 15 minutes by default): re-materialise today's raw "
    "partition of every source with an active live connection (export-file connections need no polling). "
    "The AI tiers follow by automation.",
)
def periodic_sync(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason | dg.RunRequest:
    """Today's raw partitions of the sources that have live connections."""
    sources = sources_with_live_connections(warehouse)
    if not sources:
        return dg.SkipReason("no active live connection: nothing to poll")
    tick = context.scheduled_execution_time or datetime.now(UTC)
    day = _day_key(tick)
    return dg.RunRequest(
        run_key=f"periodic-sync:{tick.astimezone(UTC).isoformat()}",
        partition_key=day,
        asset_selection=[dg.AssetKey(raw_messages_asset_name(source)) for source in sources],
        tags={"headway/trigger": "periodic_sync"},
    )


@dg.schedule(
    name="daily_close",
    cron_schedule=DAILY_CLOSE_CRON,
    execution_timezone="UTC",
    job=PIPELINE_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly at 00:30 UTC: materialise yesterday's partition of every asset once more, now that "
    "the day is over, so late messages and retries are folded in and the day is closed.",
)
def daily_close(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday's partition of every asset."""
    tick = context.scheduled_execution_time or datetime.now(UTC)
    day = _day_key(tick - timedelta(days=1))
    return dg.RunRequest(run_key=f"daily-close:{day}", partition_key=day, tags={"headway/trigger": "daily_close"})


SCHEDULES = [periodic_sync, daily_close]
