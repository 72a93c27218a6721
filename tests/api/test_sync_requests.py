"""On-demand sync: POST through the API, the sensor's side through the shared functions, GET the status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from headway_assets.core.warehouse import sync_requests
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import SourceConnection
from headway_assets.sources.registry import source_names
from tests.api.support import People, app_client, bearer

TODAY = datetime.now(UTC).date()


def _headers(client: Any, people: People, org: str = "acme") -> dict[str, str]:
    return bearer(client, people.users[f"pm@{org}.example"], org)


def test_round_trip_pending_launched_succeeded(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        headers = _headers(client, people)
        day = TODAY - timedelta(days=2)
        created = client.post(
            "/v1/sync-requests", json={"source": "slack", "first_day": day.isoformat()}, headers=headers
        )
        assert created.status_code == 202, created.text
        request = created.json()
        assert request["status"] == "pending"
        assert request["first_day"] == request["last_day"] == day.isoformat()
        assert request["requested_by"] == people.users["pm@acme.example"]

        # The sensor's side: it sees the pending request and launches a run for it, once.
        with write_transaction(database_url) as conn:
            pending = sync_requests.list_pending_sync_requests(conn)
            assert [p.id for p in pending] == [request["id"]]
            assert pending[0].org_id == people.orgs["acme"] and pending[0].source == "slack"
            assert sync_requests.mark_sync_request_launched(conn, request["id"], dagster_run_id="run-123")
            assert not sync_requests.mark_sync_request_launched(conn, request["id"], dagster_run_id="run-456")
        launched = client.get(f"/v1/sync-requests/{request['id']}", headers=headers).json()
        assert launched["status"] == "launched" and launched["dagster_run_id"] == "run-123"
        assert launched["launched_at"] is not None

        with write_transaction(database_url) as conn:
            assert sync_requests.list_pending_sync_requests(conn) == []
            assert [r.id for r in sync_requests.list_launched_sync_requests(conn)] == [request["id"]]
            assert sync_requests.mark_sync_request_succeeded(conn, request["id"])
            assert not sync_requests.mark_sync_request_failed(conn, request["id"], error="too late")
        done = client.get(f"/v1/sync-requests/{request['id']}", headers=headers).json()
        assert done["status"] == "succeeded" and done["finished_at"] is not None and done["error"] is None
        listed = client.get("/v1/sync-requests", params={"status": "succeeded"}, headers=headers).json()
        assert [r["id"] for r in listed["items"]] == [request["id"]]


def test_a_failed_launch_is_reported(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        headers = _headers(client, people)
        request = client.post("/v1/sync-requests", json={"source": "slack"}, headers=headers).json()
        assert request["first_day"] == request["last_day"] == TODAY.isoformat()  # default: today
        with write_transaction(database_url) as conn:
            assert sync_requests.mark_sync_request_failed(conn, request["id"], error="x" * 5000)
        failed = client.get(f"/v1/sync-requests/{request['id']}", headers=headers).json()
        assert failed["status"] == "failed"
        assert len(failed["error"]) == sync_requests.MAX_ERROR_LENGTH and failed["error"].endswith("…")


def test_the_same_open_request_is_not_duplicated(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        headers = _headers(client, people)
        body = {"source": "slack", "first_day": "2025-02-01", "last_day": "2025-02-03"}
        first = client.post("/v1/sync-requests", json=body, headers=headers)
        again = client.post("/v1/sync-requests", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (202, 200)
        assert first.json()["id"] == again.json()["id"]
        other = client.post("/v1/sync-requests", json={**body, "last_day": "2025-02-04"}, headers=headers)
        assert other.status_code == 202 and other.json()["id"] != first.json()["id"]


def test_open_requests_per_organisation_are_capped(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path, sync_max_open_requests=2) as client:
        headers = _headers(client, people)
        for day in (1, 2):
            body = {"source": "slack", "first_day": f"2025-02-0{day}"}
            assert client.post("/v1/sync-requests", json=body, headers=headers).status_code == 202
        refused = client.post("/v1/sync-requests", json={"source": "slack", "first_day": "2025-02-03"}, headers=headers)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_sync_requests"
        # Another organisation is not affected.
        globex = client.post("/v1/sync-requests", json={"source": "slack"}, headers=_headers(client, people, "globex"))
        assert globex.status_code == 202


def test_a_source_without_an_active_connection_is_409(database_url: str, tmp_path: Path, people: People) -> None:
    with write_transaction(database_url) as conn:
        conn.execute(update(SourceConnection).values(is_active=False))
    with app_client(database_url, tmp_path) as client:
        headers = _headers(client, people)
        for source in ("slack", "gong"):
            response = client.post("/v1/sync-requests", json={"source": source}, headers=headers)
            assert response.status_code == 409 and response.json()["error"]["code"] == "no_active_connection"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"source": "myspace"},
        {"source": "slack", "first_day": "not a day"},
        {"source": "slack", "first_day": 20250301},  # a number is not an ISO 8601 date
        {"source": "slack", "first_day": "2025-03-01T00:00:00Z"},  # nor is a date-time
        {"source": "slack", "org_id": 2},  # the organisation comes from the token, never the body
        {"source": "slack'; DROP TABLE sync_requests; --"},
    ],
)
def test_bad_sync_requests_are_422(database_url: str, tmp_path: Path, people: People, body: dict[str, Any]) -> None:
    with app_client(database_url, tmp_path, sync_max_days=366) as client:
        headers = _headers(client, people)
        response = client.post("/v1/sync-requests", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"
        assert client.get("/v1/sync-requests", headers=headers).json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"source": "slack", "first_day": "2025-03-05", "last_day": "2025-03-01"},
        {"source": "slack", "first_day": (TODAY + timedelta(days=1)).isoformat()},
        {"source": "slack", "first_day": "2019-01-01"},  # before the pipeline's first partition
        {"source": "slack", "first_day": "2025-01-01", "last_day": "2026-06-01"},  # longer than a year
    ],
)
def test_days_that_cannot_be_synced_are_400_invalid_range(
    database_url: str, tmp_path: Path, people: People, body: dict[str, Any]
) -> None:
    # Well-formed days (the schema's `date`) that make no range to sync: 400, nothing written.
    with app_client(database_url, tmp_path, sync_max_days=366) as client:
        headers = _headers(client, people)
        response = client.post("/v1/sync-requests", json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_range"
        assert client.get("/v1/sync-requests", headers=headers).json()["items"] == []


def test_shared_functions_validate_and_scope(database_url: str, people: People) -> None:
    with write_transaction(database_url) as conn:
        with pytest.raises(ValueError, match="myspace"):
            sync_requests.create_sync_request(
                conn,
                org_id=people.orgs["acme"],
                known_sources=source_names(),
                source="myspace",
                first_day=date(2025, 3, 1),
                last_day=date(2025, 3, 1),
            )
        with pytest.raises(ValueError, match="before first_day"):
            sync_requests.create_sync_request(
                conn,
                org_id=people.orgs["acme"],
                known_sources=source_names(),
                source="slack",
                first_day=date(2025, 3, 2),
                last_day=date(2025, 3, 1),
            )
        record = sync_requests.create_sync_request(
            conn,
            org_id=people.orgs["acme"],
            known_sources=source_names(),
            source="gmail",
            first_day=date(2025, 3, 1),
            last_day=date(2025, 3, 2),
        )
        assert sync_requests.get_sync_request(conn, record.id, org_id=people.orgs["globex"]) is None
        assert sync_requests.get_sync_request(conn, record.id, org_id=people.orgs["acme"]) == record
        assert sync_requests.count_open_sync_requests(conn, org_id=people.orgs["acme"]) == 1
        assert sync_requests.mark_sync_request_failed(conn, record.id, error="  ")
        assert sync_requests.get_sync_request(conn, record.id).error == "failed without a message"  # type: ignore[union-attr]
        assert sync_requests.count_open_sync_requests(conn, org_id=people.orgs["acme"]) == 0
