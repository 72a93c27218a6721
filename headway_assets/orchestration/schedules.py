"""Schedules: the periodic sync of today's raw partitions, the nightly close of yesterday, the weekly digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import select

from headway_assets.assets.keys import raw_messages_key
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.schema import ConnectionKind, Organization, SourceConnection
from headway_assets.orchestration.jobs import PIPELINE_JOB, RAW_SYNC_JOB
from headway_assets.orchestration.notifications import deliver_digests, digest_week
from headway_assets.resources.warehouse import WarehouseResource

DAILY_CLOSE_CRON = "30 0 * * *"  # 00:30 UTC: yesterday is over, late arrivals have landed
WEEKLY_DIGEST_CRON = "0 9 * * 1"  # Mondays 09:00 UTC: the past week, at the start of the next


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


def periodic_sync_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """The `periodic_sync` schedule, ticking on `cron`.

    The default is HEADWAY_PERIODIC_SYNC_CRON (the system Headway replaces synced every 15 minutes),
    read from the settings when the definitions are built, not when this module is imported.
    """
    cron = cron or get_settings().orchestration.periodic_sync_cron

    @dg.schedule(
        name="periodic_sync",
        cron_schedule=cron,
        execution_timezone="UTC",
        job=RAW_SYNC_JOB,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"On `{cron}` (every 15 minutes by default): re-materialise today's raw "
        "partition of every source with an active live connection (export-file connections need no polling). "
        "The AI tiers follow by automation.",
    )
    def periodic_sync(
        context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SkipReason | dg.RunRequest:
        """Today's raw partitions of the sources that have live connections."""
        sources = sources_with_live_connections(warehouse)
        if not sources:
            return dg.SkipReason("no active live connection: nothing to poll")
        tick = context.scheduled_execution_time or datetime.now(UTC)
        day = _day_key(tick)
        return dg.RunRequest(
            run_key=f"periodic-sync:{tick.astimezone(UTC).isoformat()}",
            partition_key=day,
            asset_selection=[raw_messages_key(source) for source in sources],
            tags={"headway/trigger": "periodic_sync"},
        )

    return periodic_sync


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


@dg.schedule(
    name="weekly_digest",
    cron_schedule=WEEKLY_DIGEST_CRON,
    execution_timezone="UTC",
    target=dg.AssetSelection.assets(),  # launches no run: the tick posts the digests itself
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays at 09:00 UTC: posts a digest of the past week (new and rising requests, the top asks, "
    "high-risk calls) to every Slack subscription that wants one, once per subscription and week.",
)
def weekly_digest(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    """Post this week's digests (a rate-limited one is retried by the slack_notifications sensor)."""
    tick = context.scheduled_execution_time or datetime.now(UTC)
    week = digest_week(tick)
    report = deliver_digests(warehouse.url, week=week, api_url=get_settings().pipeline.api_public_url)
    summary = f"weekly digest {week}: {report.summary()}"
    context.log.info(summary)
    return dg.SkipReason(summary)


def build_schedules() -> list[dg.ScheduleDefinition]:
    """Every schedule, with the settings in effect now (called when the definitions are built)."""
    return [periodic_sync_schedule(), daily_close, weekly_digest]
