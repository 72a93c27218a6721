"""The deployment the data team runs: daemon, webserver and a PostgreSQL instance, driven over GraphQL.

A backfill launched through the GraphQL API materialises every partition of every asset in a
handful of runs; the periodic-sync schedule ticks and launches a run; the sync-requests sensor
turns a request the API wrote into a run and closes the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy import select

from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import ConnectionKind, Organization, SyncRequest
from headway_assets.core.warehouse.sync_requests import create_sync_request
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection
from headway_assets.demo import build_demo_corpus
from headway_assets.sources.registry import source_names
from headway_assets.testing.fakes.gong_server import DEFAULT_ACCESS_KEY, DEFAULT_ACCESS_KEY_SECRET, FakeGongServer
from headway_assets.testing.graphql import ALL_ASSETS, LAUNCH_BACKFILL
from tests.orchestration.conftest import DEMO_DAYS, DEMO_START, Deployment

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, deployment: Deployment) -> Any:
    """Poll `condition` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{deployment.log_tail()}")


@pytest.fixture(scope="session")
def instance(deployment: Deployment) -> Iterator[dg.DagsterInstance]:
    """The deployment's Dagster instance, opened in this process (same dagster.yaml, same PostgreSQL)."""
    import os

    previous = {key: os.environ.get(key) for key in ("DAGSTER_HOME", "DAGSTER_PG_URL")}
    os.environ["DAGSTER_HOME"] = deployment.env["DAGSTER_HOME"]
    os.environ["DAGSTER_PG_URL"] = deployment.env["DAGSTER_PG_URL"]
    try:
        with dg.DagsterInstance.get() as opened:
            yield opened
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _days() -> list[str]:
    return [(DEMO_START + timedelta(days=i)).isoformat() for i in range(DEMO_DAYS)]


# Its own waits add up to 600 s (480 for the partitions, 120 for the runs): the suite-wide 300 s
# timeout would cut them short on a busy machine.
@pytest.mark.timeout(660)
def test_a_backfill_launched_over_graphql_materialises_every_partition_in_few_runs(
    deployment: Deployment, instance: dg.DagsterInstance
) -> None:
    port = int(deployment.webserver_url.rsplit(":", 1)[1])
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    answer = client._execute(
        LAUNCH_BACKFILL,
        {
            "params": {
                "partitionNames": _days(),
                "assetSelection": [{"path": [name]} for name in ALL_ASSETS],
                "title": "integration test backfill",
            }
        },
    )
    launched = answer["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def all_materialised() -> bool:
        for name in ALL_ASSETS:
            key = dg.AssetKey(name)
            if name in ("feature_catalog", "insights"):
                if instance.get_latest_materialization_event(key) is None:
                    return False
            elif instance.get_materialized_partitions(key) != set(_days()):
                return False
        return True

    wait_for(all_materialised, timeout=480, what="every partition of every asset", deployment=deployment)

    def backfill_runs_finished() -> list[dg.DagsterRun]:
        found = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        return found if all(run.is_finished for run in found) else []

    runs = wait_for(backfill_runs_finished, timeout=120, what="the backfill's runs to finish", deployment=deployment)
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    assert 1 <= len(runs) <= 4, (
        f"single-run backfill policies: {len(runs)} runs for {DEMO_DAYS} days x {len(ALL_ASSETS)} assets"
    )
    with read_connection(deployment.warehouse_url) as conn:
        orgs = conn.execute(select(Organization.slug)).scalars().all()
    assert set(orgs) == {"acme", "northwind"}


def test_the_periodic_sync_schedule_ticks_and_launches_a_run(
    deployment: Deployment, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_CREDENTIALS_KEY", deployment.env["HEADWAY_CREDENTIALS_KEY"])
    org = build_demo_corpus(start=DEMO_START, days=DEMO_DAYS).org("acme")
    with FakeGongServer.from_demo(org) as gong:
        with write_transaction(deployment.warehouse_url) as conn:
            org_id = conn.execute(select(Organization.id).where(Organization.slug == "acme")).scalar_one()
            connection_id = upsert_connection(
                conn,
                org_id=org_id,
                source="gong",
                name="Acme Gong (live)",
                kind=ConnectionKind.API,
                config={"base_url": gong.base_url, "internal_domains": list(org.org.internal_domains)},
            )
            store_credentials(
                conn,
                connection_id=connection_id,
                values={"access_key": DEFAULT_ACCESS_KEY, "access_key_secret": DEFAULT_ACCESS_KEY_SECRET},
            )

        def scheduled_run() -> dg.DagsterRun | None:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"headway/trigger": "periodic_sync"}), limit=1)
            return runs[0] if runs and runs[0].status == dg.DagsterRunStatus.SUCCESS else None

        run = wait_for(scheduled_run, timeout=200, what="a periodic_sync run", deployment=deployment)
        assert run.tags["dagster/partition"] == datetime.now(UTC).strftime("%Y-%m-%d")
        assert {key.to_user_string() for key in run.asset_selection or []} == {"raw_gong_messages"}
        assert run.tags["dagster/schedule_name"] == "periodic_sync"  # launched by a daemon tick
        paths = [request.path for request in gong.requests]
        assert any(path.endswith("/v2/calls/extensive") for path in paths), paths


def test_a_sync_request_written_by_the_api_becomes_a_run(deployment: Deployment, instance: dg.DagsterInstance) -> None:
    with write_transaction(deployment.warehouse_url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == "northwind")).scalar_one()
        request = create_sync_request(
            conn,
            org_id=org_id,
            source="slack",
            known_sources=source_names(),
            first_day=date(2026, 10, 2),
            last_day=date(2026, 10, 3),
        )

    def settled() -> Any:
        with read_connection(deployment.warehouse_url) as conn:
            row = conn.execute(select(SyncRequest).where(SyncRequest.id == request.id)).one()
        return row if row.status in ("succeeded", "failed") else None

    row = wait_for(settled, timeout=240, what="the sync request to settle", deployment=deployment)
    assert row.status == "succeeded", row.error
    run = instance.get_run_by_id(row.dagster_run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["headway/org_id"] == str(org_id)
    assert run.tags["dagster/asset_partition_range_start"] == "2026-10-02"
    assert {key.to_user_string() for key in run.asset_selection or []} == {"raw_slack_messages"}
