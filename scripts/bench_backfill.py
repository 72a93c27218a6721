"""Benchmark: a year-long backfill of every asset, through the daemon, against a do-nothing floor.

Generates 365 days of the demo corpus (two organisations, four sources), registers it in an
embedded SQLite warehouse, then for each of two code locations starts `dagster-daemon` and
`dagster-webserver` on a fresh embedded Dagster instance (SQLite, as `./dev ui` uses) and
launches one backfill of all nine assets over the 365 daily partitions through GraphQL:

1. headway — the real pipeline with the offline provider;
2. floor   — the same graph (partitions, backfill policies, dependencies) of assets that do
             nothing (scripts/bench/noop_definitions.py): what Dagster itself costs.

    .venv/bin/python scripts/bench_backfill.py [--days 365]

Prints runs launched, wall time and partitions per minute; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
import httpx  # noqa: E402
from dagster_graphql import DagsterGraphQLClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from headway_assets.core.warehouse.database import dispose_engines, migrate, read_connection, write_transaction  # noqa: E402
from headway_assets.core.warehouse.schema import FeatureRequest, Message, MessageLabel  # noqa: E402
from headway_assets.demo import generate_demo, seed_demo  # noqa: E402
from headway_assets.orchestration.instance import EMBEDDED_INSTANCE_YAML  # noqa: E402
from headway_assets.testing.graphql import ALL_ASSETS, LAUNCH_BACKFILL  # noqa: E402
from headway_assets.testing.processes import free_port, stop_process  # noqa: E402

START = date(2025, 1, 1)
VENV_BIN = Path(sys.executable).parent
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } }
}
"""


@dataclass
class Outcome:
    """One backfill's figures."""

    name: str
    runs: int
    failed_runs: int
    seconds: float
    partitions: int
    status: str

    @property
    def partitions_per_minute(self) -> float:
        return self.partitions * 60 / self.seconds


def backfill(name: str, workdir: Path, workspace_target: list[str], env: dict[str, str], days: list[str]) -> Outcome:
    """Start daemon and webserver for one code location, backfill every asset, time it."""
    home = workdir / f"dagster-home-{name}"
    home.mkdir()
    (home / "dagster.yaml").write_text(EMBEDDED_INSTANCE_YAML)
    workspace = workdir / f"workspace-{name}.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {REPO / workspace_target[0]}\n"
        f"      working_directory: {REPO}\n"
        f"      location_name: {name}\n"
    )
    env = env | {"DAGSTER_HOME": str(home)}
    os.environ["DAGSTER_HOME"] = str(home)
    # Create the instance's SQLite storage here, so daemon and webserver do not race to create it.
    dg.DagsterInstance.get().dispose()
    port = free_port()
    logs = {process: (workdir / f"{name}-{process}.log").open("w") for process in ("daemon", "webserver")}
    processes = [
        subprocess.Popen(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=REPO,
            env=env,
            stdout=logs["daemon"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=logs["webserver"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        for _ in range(180):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        with dg.DagsterInstance.get() as instance:
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)
            params = {"partitionNames": days, "assetSelection": [{"path": [a]} for a in ALL_ASSETS], "title": name}
            for _ in range(60):  # the webserver answers before its code location has loaded
                started = time.monotonic()
                answer = client._execute(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
                if answer["__typename"] == "LaunchBackfillSuccess":
                    break
                time.sleep(2)
            assert answer["__typename"] == "LaunchBackfillSuccess", answer
            backfill_id = answer["backfillId"]
            last_report = 0.0
            while True:
                status = client._execute(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                if status in TERMINAL and all(run.is_finished for run in runs):
                    break
                if time.monotonic() - last_report > 15:
                    last_report = time.monotonic()
                    done = sum(1 for run in runs if run.is_finished)
                    print(
                        f"  {name}: {time.monotonic() - started:5.0f} s, {done}/{len(runs)} runs finished", flush=True
                    )
                time.sleep(1)
            seconds = time.monotonic() - started
            failed = sum(1 for run in runs if run.status != dg.DagsterRunStatus.SUCCESS)
            return Outcome(name, len(runs), failed, seconds, len(days) * len(ALL_ASSETS), status)
    finally:
        for process in processes:
            stop_process(process)
        for handle in logs.values():
            handle.close()


def main() -> int:
    """Generate the year, run both backfills, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, warehouse)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="headway-bench-backfill-"))
    days = [(START + timedelta(days=offset)).isoformat() for offset in range(args.days)]
    try:
        print(f"generating {args.days} days of the demo corpus in {workdir} …", flush=True)
        manifest = generate_demo(workdir / "demo", start=START, days=args.days)
        url = f"sqlite:///{workdir / 'headway.db'}"
        migrate(url)
        with write_transaction(url) as conn:
            seed_demo(conn, manifest, data_dir=workdir)
        dispose_engines()
        items = sum(c.items for org in manifest.orgs for c in org.connections)
        print(f"{items:,} source items; {os.cpu_count()} cores\n", flush=True)
        env = os.environ | {
            "HEADWAY_DATABASE_URL": url,
            "HEADWAY_DATA_DIR": str(workdir),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        floor = backfill("floor", workdir, ["scripts/bench/noop_definitions.py"], env, days)
        headway = backfill("headway", workdir, ["headway_assets/definitions.py"], env, days)
        with read_connection(url) as conn:
            messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
            labels = conn.execute(select(func.count()).select_from(MessageLabel)).scalar_one()
            requests = conn.execute(select(func.count()).select_from(FeatureRequest)).scalar_one()
        print()
        for outcome in (headway, floor):
            print(
                f"  {outcome.name:8s} {outcome.runs:3d} runs ({outcome.failed_runs} failed)  {outcome.seconds:7.1f} s  "
                f"{outcome.partitions_per_minute:8.0f} asset-partitions/min  backfill {outcome.status}"
            )
        print(
            f"\nheadway/floor wall time: {headway.seconds / floor.seconds:.2f}x; "
            f"{messages:,} messages, {labels:,} tier-1 labels, {requests:,} feature requests landed"
        )
        return 0 if headway.failed_runs == 0 and floor.failed_runs == 0 else 1
    finally:
        dispose_engines()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
