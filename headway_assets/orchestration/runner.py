"""Running the pipeline from the command line, with progress, on a persistent Dagster instance.

The CLI runs the same job the UI launches, in-process, and records the run in the instance
at DAGSTER_HOME so that `dagster dev` afterwards shows its materialisations and checks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster import EventLogEntry

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.orchestration.jobs import CATALOGUE_REBUILD_JOB, PIPELINE_JOB

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# The console logger would print every Dagster event; the CLI prints its own progress lines.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class StepReport:
    """One asset step as the CLI saw it."""

    step_key: str
    started: float
    finished: float | None = None
    succeeded: bool | None = None


@dataclass
class PipelineRunReport:
    """The outcome of one CLI pipeline run."""

    run_id: str
    success: bool
    seconds: float
    steps: list[StepReport] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)


def run_pipeline(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    first_partition: str,
    last_partition: str,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    refresh_stale: bool = False,
    progress: Callable[[str], None] = print,
) -> PipelineRunReport:
    """Materialise `asset_selection` (default: every asset) for a partition range in one run.

    `refresh_stale` tags the run so that the AI tiers also redo what an earlier model, prompt
    version or taxonomy made (cached answers still serve the rest).
    """
    tags = {RANGE_START_TAG: first_partition, RANGE_END_TAG: last_partition, "headway/launched_by": "cli"}
    if refresh_stale:
        tags[REFRESH_STALE_TAG] = "true"
    return _execute(
        defs.resolve_job_def(PIPELINE_JOB.name), instance, tags=tags, asset_selection=asset_selection, progress=progress
    )


def run_catalogue_rebuild(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    orgs: Sequence[str] = (),
    progress: Callable[[str], None] = print,
) -> PipelineRunReport:
    """Run the `catalogue_rebuild` job (every organisation, or only `orgs`) and report its steps."""
    return _execute(
        defs.resolve_job_def(CATALOGUE_REBUILD_JOB.name),
        instance,
        tags={"headway/launched_by": "cli"},
        run_config={"ops": {"feature_catalog": {"config": {"rebuild": True, "orgs": list(orgs)}}}},
        progress=progress,
    )


def _execute(
    job: Any,
    instance: dg.DagsterInstance,
    *,
    tags: dict[str, str],
    run_config: dict[str, Any] | None = None,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    progress: Callable[[str], None],
) -> PipelineRunReport:
    """Execute `job` in this thread, printing each step as Dagster stores its events."""
    steps: dict[str, StepReport] = {}

    def on_event(record: EventLogEntry) -> None:
        # Called by the instance as it stores each event of this run, in the running thread.
        event = record.dagster_event
        if event is None or not event.step_key:
            return
        if event.event_type == dg.DagsterEventType.STEP_START:
            steps[event.step_key] = StepReport(event.step_key, started=record.timestamp)
            progress(f"  … {event.step_key}")
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            report = steps.setdefault(event.step_key, StepReport(event.step_key, started=record.timestamp))
            report.finished = record.timestamp
            report.succeeded = event.event_type == dg.DagsterEventType.STEP_SUCCESS
            mark = "✓" if report.succeeded else "✗"
            progress(f"  {mark} {event.step_key} ({report.finished - report.started:.1f} s)")

    # Dagster's own event subscription (the instance calls listeners of a run id as it stores
    # each event), so progress needs no thread and no polling of the event log.
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, on_event)
    started = time.monotonic()
    try:
        result = job.execute_in_process(
            instance=instance,
            tags=tags,
            run_config={**QUIET_RUN_CONFIG, **(run_config or {})},
            asset_selection=list(asset_selection) if asset_selection else None,
            raise_on_error=False,
            run_id=run_id,
        )
    except Exception as error:
        raise RuntimeError(f"the pipeline run could not be executed: {error}") from error
    failed_checks = [
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    return PipelineRunReport(
        run_id=result.run_id,
        success=result.success,
        seconds=time.monotonic() - started,
        steps=list(steps.values()),
        failed_checks=failed_checks,
    )
