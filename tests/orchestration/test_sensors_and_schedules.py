"""Schedules and sensors evaluated with Dagster's own test contexts against a real warehouse."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import dagster as dg
import pytest
from sqlalchemy import func, select

from headway_assets.assets.call_insights import CALL_SOURCES, call_insights
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import ConnectionKind, Message, Organization, SyncRequest
from headway_assets.core.warehouse.sync_requests import create_sync_request
from headway_assets.core.warehouse.tenants import upsert_connection
from headway_assets.orchestration.schedules import daily_close, periodic_sync_schedule
from headway_assets.orchestration.sensors import (
    ALERT_WEBHOOK_ENV,
    incomplete_partitions,
    post_failure_alert,
    sync_requests,
)
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.registry import source_names
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-09"


def _org_id(url: str, slug: str = "acme") -> int:
    with read_connection(url) as conn:
        return int(conn.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one())


def test_periodic_sync_polls_only_sources_with_live_connections(seeded_warehouse: str) -> None:
    periodic_sync = periodic_sync_schedule()
    resources = {"warehouse": WarehouseResource(database_url=seeded_warehouse)}
    tick = datetime(2026, 11, 26, 9, 15, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=tick, resources=resources) as context:
        assert isinstance(periodic_sync(context), dg.SkipReason), "export connections need no polling"
    with write_transaction(seeded_warehouse) as conn:
        upsert_connection(
            conn,
            org_id=_org_id(seeded_warehouse),
            source="gong",
            name="live gong",
            kind=ConnectionKind.API,
            config={"base_url": "https://tenant.api.gong.example"},
        )
    with dg.build_schedule_context(scheduled_execution_time=tick, resources=resources) as context:
        request = periodic_sync(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-11-26"
    assert request.asset_selection == [dg.AssetKey("raw_gong_messages")]


def test_daily_close_materialises_yesterday() -> None:
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26, 0, 30, tzinfo=UTC)) as context:
        request = daily_close(context)
    assert isinstance(request, dg.RunRequest) and request.partition_key == "2026-11-25"


def test_sync_requests_sensor_launches_each_request_once_for_its_organisation(seeded_warehouse: str) -> None:
    org_id = _org_id(seeded_warehouse, "northwind")
    with write_transaction(seeded_warehouse) as conn:
        created = create_sync_request(
            conn,
            org_id=org_id,
            source="gmail",
            known_sources=source_names(),
            first_day=date(2026, 10, 2),
            last_day=date(2026, 10, 4),
        )
    instance = dg.DagsterInstance.ephemeral()
    resources = {"warehouse": WarehouseResource(database_url=seeded_warehouse)}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = sync_requests(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    assert request.asset_selection == [dg.AssetKey("raw_gmail_messages")]
    assert request.tags["headway/org_id"] == str(org_id)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-10-02"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-10-04"
    with read_connection(seeded_warehouse) as conn:
        status = conn.execute(select(SyncRequest.status).where(SyncRequest.id == created.id)).scalar_one()
    assert status == "launched"
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        again = sync_requests(context)
    assert isinstance(again, dg.SensorResult) and not again.run_requests


def test_incomplete_partitions_re_requests_a_capped_day_until_it_is_whole(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {"warehouse": WarehouseResource(database_url=seeded_warehouse)}
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY, instance=instance)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = incomplete_partitions(context)
    assert isinstance(result, dg.SensorResult) and not result.run_requests, (
        "a day tier-1 never ran is automation's job, not this sensor's"
    )
    materialize_assets([message_labels], seeded_warehouse, partition=DAY, instance=instance, max_items_per_run=10)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = incomplete_partitions(context)
    assert isinstance(result, dg.SensorResult)
    labels_requests = [r for r in result.run_requests or [] if r.asset_selection == [dg.AssetKey("message_labels")]]
    assert [r.partition_key for r in labels_requests] == [DAY]
    first_key = labels_requests[0].run_key
    materialize_assets([message_labels], seeded_warehouse, partition=DAY, instance=instance, max_items_per_run=10)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = incomplete_partitions(context)
    keys = [r.run_key for r in result.run_requests or [] if r.asset_selection == [dg.AssetKey("message_labels")]]
    assert keys and keys[0] != first_key, "a new unfinished state gets a new run key (the old one is never re-run)"
    materialize_assets([message_labels], seeded_warehouse, partition=DAY, instance=instance)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = incomplete_partitions(context)
    assert not [r for r in result.run_requests or [] if r.asset_selection == [dg.AssetKey("message_labels")]]


def test_incomplete_partitions_re_requests_a_day_with_calls_left_unassessed(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {"warehouse": WarehouseResource(database_url=seeded_warehouse)}
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY, instance=instance)
    start = datetime.combine(date.fromisoformat(DAY), datetime.min.time(), tzinfo=UTC)
    with read_connection(seeded_warehouse) as conn:
        calls = conn.execute(
            select(func.count()).where(
                Message.source.in_(CALL_SOURCES), Message.sent_at >= start, Message.sent_at < start + timedelta(days=1)
            )
        ).scalar_one()
    assert calls >= 2, "the day must hold calls for this test"

    def call_requests() -> list[dg.RunRequest]:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = incomplete_partitions(context)
        assert isinstance(result, dg.SensorResult)
        return [r for r in result.run_requests or [] if r.asset_selection == [call_insights.key]]

    # A run capped at one call leaves the rest of the day unassessed: the sensor asks for the day again.
    materialize_assets([call_insights], seeded_warehouse, partition=DAY, instance=instance, max_items_per_run=1)
    assert [r.partition_key for r in call_requests()] == [DAY]
    materialize_assets([call_insights], seeded_warehouse, partition=DAY, instance=instance)
    assert call_requests() == [], "every call assessed: nothing left to ask for"


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def slack_webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.received = []
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{server.server_address[1]}/services/T/B/X")
    try:
        yield _Receiver.received
    finally:
        server.shutdown()


def test_failure_alerts_go_to_the_slack_webhook(slack_webhook: list[dict[str, object]]) -> None:
    assert post_failure_alert("Headway run abc failed: boom")
    assert slack_webhook == [{"text": "Headway run abc failed: boom"}]


def test_no_webhook_no_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALERT_WEBHOOK_ENV, raising=False)
    assert post_failure_alert("anything") is False
