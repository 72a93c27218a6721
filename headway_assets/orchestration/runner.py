"""Running the pipeline from the command line, with progress, on a persistent Dagster instance.

The CLI runs the same job the UI launches, in-process, and records the run in the instance
at DAGSTER_HOME so that `dagster dev` afterwards shows its materialisations and checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.orchestration.jobs import PIPELINE_JOB

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
    poll_seconds: float = 0.5,
) -> PipelineRunReport:
    """Materialise `asset_selection` (default: every asset) for a partition range in one run.

    `refresh_stale` tags the run so that the AI tiers also redo what an earlier model, prompt
    version or taxonomy made (cached answers still serve the rest).
    """
    job = defs.resolve_job_def(PIPELINE_JOB.name)
    outcome: dict[str, dg.ExecuteInProcessResult | BaseException] = {}
    tags = {RANGE_START_TAG: first_partition, RANGE_END_TAG: last_partition, "headway/launched_by": "cli"}
    if refresh_stale:
        tags[REFRESH_STALE_TAG] = "true"

    def execute() -> None:
        try:
            outcome["result"] = job.execute_in_process(
                instance=instance,
                tags=tags,
                run_config=QUIET_RUN_CONFIG,
                asset_selection=list(asset_selection) if asset_selection else None,
                raise_on_error=False,
            )
        except BaseException as error:  # surfaced to the caller below
            outcome["error"] = error

    started = time.monotonic()
    worker = threading.Thread(target=execute, name="headway-pipeline", daemon=True)
    existing = {run.run_id for run in instance.get_runs(limit=50)}
    worker.start()
    steps: dict[str, StepReport] = {}
    seen_events = 0
    run_id: str | None = None
    finished = False
    while True:
        if run_id is None:
            fresh = [run for run in instance.get_runs(limit=10) if run.run_id not in existing]
            run_id = fresh[0].run_id if fresh else None
        if run_id is not None:
            records = instance.all_logs(run_id)
            for record in records[seen_events:]:
                event = record.dagster_event
                if event is None or not event.step_key:
                    continue
                if event.event_type == dg.DagsterEventType.STEP_START:
                    steps[event.step_key] = StepReport(event.step_key, started=record.timestamp)
                    progress(f"  … {event.step_key}")
                elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                    report = steps.setdefault(event.step_key, StepReport(event.step_key, started=record.timestamp))
                    report.finished = record.timestamp
                    report.succeeded = event.event_type == dg.DagsterEventType.STEP_SUCCESS
                    mark = "✓" if report.succeeded else "✗"
                    progress(f"  {mark} {event.step_key} ({report.finished - report.started:.1f} s)")
            seen_events = len(records)
        if finished:
            break
        # Read once more after the run ends: its last steps' events may land after the read above.
        finished = not worker.is_alive()
        if not finished:
            time.sleep(poll_seconds)
    worker.join()
    result = outcome.get("result")
    if not isinstance(result, dg.ExecuteInProcessResult):
        error = outcome.get("error")
        cause = error if isinstance(error, BaseException) else None
        raise RuntimeError(f"the pipeline run could not be executed: {error}") from cause
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
