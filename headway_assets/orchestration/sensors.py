"""Sensors: on-demand sync requests from the API, incomplete partitions, run failures, automation.

- `sync_requests`: turns pending rows of `sync_requests` (written by the read API) into runs of the
  source's raw asset for the requested days, narrowed to the requesting organisation; later ticks
  follow the run and mark the request succeeded or failed.
- `incomplete_partitions`: re-requests days whose work a bounded run left unfinished (a capped live
  sync, messages without a current tier-1 label, relevant messages not yet through tier-2 or
  without an insight). Run keys carry the state of the day, so the same state is never requested
  twice and a day whose run is still going is left alone.
- `llm_batch_results`: polls the vendor batches batch-mode runs submitted, lands ended ones in the
  LLM cache (errored requests resubmitted once; expired or cancelled ones back to the live path)
  and re-runs the submitting asset's partitions, which then read the cache.
- `slack_notifications`: posts each subscribed Slack channel's new signals (new requests, rising
  requests, high-risk calls) and retries rate-limited posts, each signal at most once
  (orchestration/notifications.py).
- `run_failures`: logs every failed run and, when HEADWAY_ALERT_SLACK_WEBHOOK_URL is set, posts it
  to Slack.
- `ai_automation`: declarative automation (`eager`) of the AI tiers: they follow their upstream
  assets without anyone clicking.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import Connection, func, select

from headway_assets.assets.ai_support import AI_GROUP, run_async
from headway_assets.assets.call_insights import CALL_SOURCES, call_insights
from headway_assets.assets.feature_mentions import extraction_pending, feature_mentions
from headway_assets.assets.insights import message_insights
from headway_assets.assets.keys import raw_messages_key
from headway_assets.assets.message_authors import CUSTOMERS_GROUP
from headway_assets.assets.message_labels import message_labels, pending_filter, relevant_label
from headway_assets.assets.tags import ORG_TAG
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.schema import (
    CallInsight,
    Message,
    MessageExtraction,
    MessageInsight,
    MessageLabel,
    SyncRun,
    SyncStatus,
)
from headway_assets.core.warehouse.stats import as_date, utc_day
from headway_assets.llm.batches import LandedBatch, land_open_batches, open_batch_count
from headway_assets.llm.providers.base import LlmProvider
from headway_assets.orchestration.jobs import PIPELINE_JOB, RAW_SYNC_JOB, SYNC_REQUEST_TAG
from headway_assets.orchestration.notifications import deliver_signals
from headway_assets.resources.llm import LlmResource
from headway_assets.resources.warehouse import WarehouseResource

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
SENSOR_INTERVAL_SECONDS = 30
ALERT_WEBHOOK_ENV = "HEADWAY_ALERT_SLACK_WEBHOOK_URL"
_ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


# -- on-demand sync requests -------------------------------------------------------------------


def _partition_tags(first: date, last: date) -> dict[str, str]:
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


@dg.sensor(
    name="sync_requests",
    job=RAW_SYNC_JOB,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches the on-demand syncs the read API records (POST /v1/sync-requests): the source's raw "
    "asset for the requested days, one organisation only; then tracks the run and closes the request.",
)
def sync_requests(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    """Launch pending requests and settle launched ones."""
    from headway_assets.core.warehouse.sync_requests import (
        attach_sync_request_run,
        list_launched_sync_requests,
        list_pending_sync_requests,
        mark_sync_request_failed,
        mark_sync_request_launched,
        mark_sync_request_succeeded,
    )

    requests: list[dg.RunRequest] = []
    with warehouse.write() as conn:
        for record in list_launched_sync_requests(conn):
            runs = context.instance.get_runs(filters=dg.RunsFilter(tags={SYNC_REQUEST_TAG: str(record.id)}), limit=1)
            if not runs:
                continue
            run = runs[0]
            if record.dagster_run_id != run.run_id:
                attach_sync_request_run(conn, record.id, dagster_run_id=run.run_id)
            if run.status == dg.DagsterRunStatus.SUCCESS:
                mark_sync_request_succeeded(conn, record.id)
            elif run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                mark_sync_request_failed(
                    conn, record.id, error=f"Dagster run {run.run_id} ended {run.status.value.lower()}; see its log"
                )
        for record in list_pending_sync_requests(conn):
            requests.append(
                dg.RunRequest(
                    run_key=f"sync-request:{record.id}",
                    asset_selection=[raw_messages_key(record.source)],
                    tags={
                        SYNC_REQUEST_TAG: str(record.id),
                        ORG_TAG: str(record.org_id),
                        "headway/trigger": "sync_request",
                        **_partition_tags(record.first_day, record.last_day),
                    },
                )
            )
            mark_sync_request_launched(conn, record.id, dagster_run_id=None)
            context.log.info(
                f"sync request {record.id}: {record.source} {record.first_day}..{record.last_day} "
                f"for organisation {record.org_id}"
            )
    return dg.SensorResult(run_requests=requests)


# -- incomplete partitions ---------------------------------------------------------------------


def _day_states(conn: Connection, query: Any) -> dict[str, str]:
    """{day: state} where the state changes whenever the day's pending set changes."""
    return {as_date(row.day).isoformat(): f"{row.pending}-{row.max_id}" for row in conn.execute(query)}


def _pending_per_day(day: Any) -> Any:
    """Messages counted per day (with the newest id, so a changed pending set changes the state)."""
    return select(day.label("day"), func.count().label("pending"), func.max(Message.id).label("max_id")).select_from(
        Message
    )


def incomplete_days(conn: Connection) -> dict[dg.AssetKey, dict[str, str]]:
    """Per asset, the days with unfinished work and a fingerprint of what is unfinished."""
    day = utc_day(conn, Message.sent_at)
    labels = (
        _pending_per_day(day)
        .outerjoin(MessageLabel, MessageLabel.message_id == Message.id)
        .where(pending_filter())
        .group_by(day)
    )
    mentions = (
        _pending_per_day(day)
        .join(MessageLabel, MessageLabel.message_id == Message.id)
        .outerjoin(MessageExtraction, MessageExtraction.message_id == Message.id)
        .where(relevant_label(), extraction_pending())
        .group_by(day)
    )
    insights = (
        _pending_per_day(day)
        .join(MessageLabel, MessageLabel.message_id == Message.id)
        .outerjoin(MessageInsight, MessageInsight.message_id == Message.id)
        .where(relevant_label(), MessageInsight.message_id.is_(None))
        .group_by(day)
    )
    calls = (
        _pending_per_day(day)
        .outerjoin(CallInsight, CallInsight.message_id == Message.id)
        .where(Message.source.in_(CALL_SOURCES), CallInsight.message_id.is_(None))
        .group_by(day)
    )
    result = {
        message_labels.key: _day_states(conn, labels),
        feature_mentions.key: _day_states(conn, mentions),
        message_insights.key: _day_states(conn, insights),
        call_insights.key: _day_states(conn, calls),
    }
    raw: dict[dg.AssetKey, dict[str, str]] = defaultdict(dict)
    latest = (
        select(func.max(SyncRun.id))
        .where(SyncRun.status != SyncStatus.RUNNING.value)
        .group_by(SyncRun.connection_id, SyncRun.window_start, SyncRun.window_end)
    )
    for run in conn.execute(
        select(SyncRun.id, SyncRun.source, SyncRun.window_start, SyncRun.window_end).where(
            SyncRun.id.in_(latest), SyncRun.status == SyncStatus.INCOMPLETE.value
        )
    ):
        first = run.window_start.date()
        last = (run.window_end - timedelta(days=1)).date()
        key = first.isoformat() if first == last else f"{first.isoformat()}...{last.isoformat()}"
        raw[raw_messages_key(run.source)][key] = str(run.id)
    result.update(raw)
    return result


def _days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]


def _busy_partitions(instance: dg.DagsterInstance) -> set[tuple[dg.AssetKey, str]]:
    """(asset, day) pairs covered by runs still queued or running ('*' = the whole asset)."""
    busy: set[tuple[dg.AssetKey, str]] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE_RUN_STATUSES), limit=500):
        if run.tags.get(RANGE_START_TAG) and run.tags.get(RANGE_END_TAG):
            days = _days_between(run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG])
        elif run.tags.get("dagster/partition"):
            days = [run.tags["dagster/partition"]]
        else:
            days = ["*"]
        for key in run.asset_selection or []:
            busy.update((key, day) for day in days)
    return busy


def _requests_for(
    asset: dg.AssetKey, states: dict[str, str], busy: set[tuple[dg.AssetKey, str]], materialised: set[str]
) -> Iterable[dg.RunRequest]:
    name = asset.to_user_string()  # run keys keep the asset's name, as before
    for partition, state in sorted(states.items()):
        days = _days_between(*partition.split("...")) if "..." in partition else [partition]
        # Only days a run already materialised and left unfinished; the first materialisation of
        # a day is automation's job. A day with a run still going is left alone.
        if not all(day in materialised for day in days):
            continue
        if (asset, "*") in busy or any((asset, day) in busy for day in days):
            continue
        tags = {"headway/trigger": "incomplete_partitions"}
        partition_key: str | None = partition
        if "..." in partition:
            first, last = partition.split("...")
            tags |= {RANGE_START_TAG: first, RANGE_END_TAG: last}
            partition_key = None
        digest = hashlib.sha256(f"{name}|{partition}|{state}".encode()).hexdigest()[:16]
        yield dg.RunRequest(
            run_key=f"incomplete:{name}:{partition}:{digest}",
            partition_key=partition_key,
            asset_selection=[asset],
            tags=tags,
        )


@dg.sensor(
    name="incomplete_partitions",
    job=PIPELINE_JOB,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-requests days that bounded runs left unfinished (capped live syncs, messages without a "
    "current tier-1 label, relevant messages not yet through tier-2 or without an insight, calls not yet "
    "assessed) until they are whole. Never requests the same unfinished state twice, nor a day whose run is "
    "still going.",
)
def incomplete_partitions(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    """Run requests for every asset-day with unfinished work."""
    with warehouse.read() as conn:
        states = incomplete_days(conn)
    busy = _busy_partitions(context.instance)
    requests = [
        request
        for asset, days in states.items()
        if days
        for request in _requests_for(asset, days, busy, context.instance.get_materialized_partitions(asset))
    ]
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("every materialised day is complete"))
    context.log.info(f"{len(requests)} unfinished asset-day(s) re-requested")
    return dg.SensorResult(run_requests=requests)


# -- vendor batches ------------------------------------------------------------------------------


def batch_run_requests(landed: Iterable[LandedBatch]) -> list[dg.RunRequest]:
    """One run of the submitting asset over its partition range per landed batch whose items now
    have an answer in the cache or are back on the live path (not one whose every request went
    into a resubmission, which lands later)."""
    requests: list[dg.RunRequest] = []
    for batch in landed:
        if batch.resubmitted_as and not (batch.succeeded or batch.expired or batch.cancelled):
            continue
        origin = batch.origin
        tags = {"headway/trigger": "llm_batch_results", "headway/llm_batch": str(batch.batch_id)}
        partition_key: str | None = origin.partition_start
        if origin.partition_start and origin.partition_end and origin.partition_end != origin.partition_start:
            tags |= _partition_tags(
                date.fromisoformat(origin.partition_start), date.fromisoformat(origin.partition_end)
            )
            partition_key = None
        requests.append(
            dg.RunRequest(
                run_key=f"llm_batch:{batch.batch_id}",
                partition_key=partition_key,
                asset_selection=[dg.AssetKey.from_user_string(origin.asset)],
                tags=tags,
            )
        )
    return requests


@dg.sensor(
    name="llm_batch_results",
    job=PIPELINE_JOB,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS * 4,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls the vendor batches (Anthropic Message Batches, OpenAI Batch API) that batch-mode runs "
    "submitted; lands each ended one's answers in the LLM cache, resubmits errored requests once, records "
    "expired or cancelled ones (their items go back to the live path) and re-runs the partitions.",
)
def llm_batch_results(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.SensorResult:
    """Land ended batches and request the runs that pick their answers up."""
    with warehouse.read() as conn:
        if not open_batch_count(conn):
            return dg.SensorResult(skip_reason=dg.SkipReason("no open LLM batch"))
    landed = run_async(lambda: land_batches(warehouse.url, llm))
    if not landed:
        return dg.SensorResult(skip_reason=dg.SkipReason("every open LLM batch is still processing"))
    for batch in landed:
        context.log.info(
            f"LLM batch {batch.batch_id} ({batch.task}) {batch.status}: {batch.succeeded} answered, "
            f"{batch.errored} errored, {batch.expired} expired, {batch.cancelled} cancelled; "
            f"{batch.items_cached} item answer(s) cached, ${batch.cost_usd:.6f}"
            + (f"; errored requests resubmitted as {batch.resubmitted_as}" if batch.resubmitted_as else "")
        )
    return dg.SensorResult(run_requests=batch_run_requests(landed))


async def land_batches(database_url: str, llm: LlmResource) -> list[LandedBatch]:
    """Land every ended open batch, with one provider client per vendor (closed afterwards)."""
    providers: dict[str, LlmProvider] = {}

    def provider_for(name: str) -> LlmProvider:
        if name not in providers:
            providers[name] = llm.provider_named(name)
        return providers[name]

    try:
        return await land_open_batches(database_url, provider_for)
    finally:
        for provider in providers.values():
            await provider.aclose()


# -- Slack notifications -------------------------------------------------------------------------

NOTIFY_INTERVAL_SECONDS = 60


@dg.sensor(
    name="slack_notifications",
    minimum_interval_seconds=NOTIFY_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each subscribed Slack channel's new signals (POST /v1/notifications/subscriptions): new and "
    "rising feature requests of its theme and high-risk calls, with chat.postMessage and the organisation's Slack "
    "token, each signal at most once (notification_deliveries); rate-limited posts are retried on a later tick.",
)
def slack_notifications(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
    """Deliver every subscription's new signals and every due retry; log counts only."""
    report = deliver_signals(warehouse.url, api_url=get_settings().pipeline.api_public_url)
    summary = report.summary()
    context.log.info(f"slack notifications: {summary}")
    return dg.SensorResult(skip_reason=dg.SkipReason(summary))


# -- failures ------------------------------------------------------------------------------------


def post_failure_alert(text: str) -> bool:
    """Post `text` to the Slack incoming webhook in HEADWAY_ALERT_SLACK_WEBHOOK_URL, if set."""
    secret = get_settings().orchestration.alert_slack_webhook_url
    url = secret.get_secret_value() if secret else ""
    if not url:
        return False
    from slack_sdk.webhook import WebhookClient

    response = WebhookClient(url, timeout=10).send(text=text)
    return response.status_code == 200


@dg.run_failure_sensor(
    name="run_failures",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports every failed run: in this sensor's log, and in Slack when "
    "HEADWAY_ALERT_SLACK_WEBHOOK_URL is set.",
)
def run_failures(context: dg.RunFailureSensorContext) -> None:
    """Log the failure and alert Slack."""
    run = context.dagster_run
    error = context.failure_event.message or "no message"
    partition = run.tags.get("dagster/partition") or run.tags.get(RANGE_START_TAG) or "-"
    text = f":red_circle: Headway run {run.run_id} of {run.job_name} (partition {partition}) failed: {error}"
    context.log.error(text)
    try:
        if post_failure_alert(text):
            context.log.info("failure posted to Slack")
    except Exception as exc:  # an alerting problem must not hide the failure itself
        context.log.warning(f"could not post the failure to Slack: {type(exc).__name__}")


ai_automation = dg.AutomationConditionSensorDefinition(
    "ai_automation",
    # message_authors follows the raw assets the same way, so a sync's new authors are resolved.
    target=dg.AssetSelection.groups(AI_GROUP, CUSTOMERS_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    description="Declarative automation of the AI tiers and the author resolution: each follows its upstream "
    "assets (eager).",
)

SENSORS = [
    sync_requests,
    incomplete_partitions,
    llm_batch_results,
    slack_notifications,
    run_failures,
    ai_automation,
]
