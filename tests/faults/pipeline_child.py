"""A pipeline run in a process of its own, for the fault tests to kill, starve or cut off.

    python tests/faults/pipeline_child.py --database-url URL --data-dir DIR \
        --first 2026-10-01 --last 2026-10-10 --assets raw,labels [--pause-in-write raw:0.5]

It materialises the chosen assets over the partition range in one Dagster run (`dg.materialize`,
as a backfill with `BackfillPolicy.single_run()` runs them), on an ephemeral instance. The LLM
provider comes from the environment (HEADWAY_LLM_PROVIDER, HEADWAY_LLM_BASE_URL, ...), as in
production.

`--pause-in-write raw:S` (or `labels:S`) makes every raw connection write (or tier-1 slice
write) sleep S seconds *inside* its open transaction, after its rows are written and before the
commit, and print `{"event": "in_transaction", ...}` first: the test then kills the process or
restarts the database at a moment when rows are written but not committed. With
`--resume-file F` the pause lasts until F exists instead (at most S seconds), so a test can hold
the transaction open for exactly as long as its fault takes; `--pause-from N` pauses only the
N-th write and the later ones (the event's `paused` says which). Nothing else changes.

Prints one JSON line per event and `{"event": "done", "success": ..., "errors": [...]}` at the
end; exits 0 when the run succeeded, 1 when it failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `headway_assets` and `tests` importable
    sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402

from headway_assets.assets import message_labels as labels_module  # noqa: E402
from headway_assets.assets import raw_messages as raw_module  # noqa: E402
from headway_assets.assets.message_labels import message_labels  # noqa: E402
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS  # noqa: E402
from headway_assets.resources.llm import LlmResource  # noqa: E402
from headway_assets.resources.sources import SourcesResource  # noqa: E402
from headway_assets.resources.warehouse import WarehouseResource  # noqa: E402

ASSETS: dict[str, list[Any]] = {"raw": list(RAW_MESSAGE_ASSETS), "labels": [message_labels]}


def say(event: str, **fields: Any) -> None:
    """One JSON line on stdout, flushed at once (the test reads it while we run)."""
    print(json.dumps({"event": event, **fields}), flush=True)


@dataclass
class Pause:
    """How writes pause: `seconds` (or until `resume_file` exists), from the `first`-th write on."""

    seconds: float
    resume_file: Path | None
    first: int = 1
    writes: int = 0

    def __call__(self, where: str, **fields: Any) -> None:
        """Announce a write transaction about to commit, and pause it if it is due."""
        self.writes += 1
        due = self.writes >= self.first
        say("in_transaction", where=where, paused=due, **fields)
        if due:
            pause(self.seconds, self.resume_file)


def pause(seconds: float, resume_file: Path | None) -> None:
    """Sleep `seconds`, or until `resume_file` exists when one is given (at most `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if resume_file is not None and resume_file.exists():
            return
        time.sleep(0.02)


def pause_raw_writes(hold: Pause) -> None:
    """Pause inside each connection's write transaction, after its rows are written."""
    real = raw_module.write_window

    def write_window(conn: Any, **kwargs: Any) -> Any:
        stats = real(conn, **kwargs)
        hold("raw", connection=kwargs["connection"].label, rows=stats.inserted)
        return stats

    raw_module.write_window = write_window  # type: ignore[assignment]


def pause_label_writes(hold: Pause) -> None:
    """Pause inside each tier-1 slice's write transaction, after its label rows are written."""
    real_insert = labels_module.insert_rows

    def insert_rows(conn: Any, table: Any, rows: Any) -> Any:
        result = real_insert(conn, table, rows)
        hold("labels", rows=len(rows))
        return result

    labels_module.insert_rows = insert_rows  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline as asked; 0 on success, 1 on a failed run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--first", required=True)
    parser.add_argument("--last", required=True)
    parser.add_argument("--assets", default="raw,labels", help="comma-separated: raw, labels")
    parser.add_argument("--pause-in-write", default=None, help="raw:SECONDS or labels:SECONDS")
    parser.add_argument("--resume-file", type=Path, default=None, help="end each pause once this file exists")
    parser.add_argument("--pause-from", type=int, default=1, help="pause the N-th write and the later ones")
    args = parser.parse_args(argv)

    if args.pause_in_write:
        where, _, seconds = args.pause_in_write.partition(":")
        hold = Pause(float(seconds), args.resume_file, first=args.pause_from)
        {"raw": pause_raw_writes, "labels": pause_label_writes}[where](hold)
    assets = [asset for name in args.assets.split(",") for asset in ASSETS[name]]
    say("started")
    result = dg.materialize(
        assets,
        resources={
            "warehouse": WarehouseResource(database_url=args.database_url),
            "sources": SourcesResource(data_dir=args.data_dir),
            "llm": LlmResource(),  # provider, base URL, limits: HEADWAY_* environment
        },
        tags={
            "dagster/asset_partition_range_start": args.first,
            "dagster/asset_partition_range_end": args.last,
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    errors = [
        str(event.step_failure_data.error.to_string() if event.step_failure_data.error else "")
        for event in result.all_events
        if event.is_step_failure
    ]
    say("done", success=result.success, errors=errors)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
