"""Notification subscriptions through HTTP, on SQLite and PostgreSQL: create, list, get, change and delete;
people write and service tokens read; other organisations' ids, unknown themes, bad channel ids,
duplicates and unknown signals are refused with a clear error and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from headway_api.core.security import CATALOGUE_WRITE_SCOPE
from headway_api.schemas.notifications import NotificationSubscription, NotificationSubscriptionPage
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import NotificationDelivery
from headway_assets.core.warehouse.schema import NotificationSubscription as SubscriptionRow
from tests.api.support import Seed, app_client, bearer, seed_warehouse, table_rows
from tests.api.test_triage import _service

PATH = "/v1/notifications/subscriptions"
CHANNEL = "C0123456789"


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str]]:
    """The API over a seeded warehouse of two organisations (acme is the caller)."""
    seed = seed_warehouse(database_url)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, database_url


def _state(url: str) -> dict[str, Any]:
    return table_rows(url, (SubscriptionRow, NotificationDelivery))


def _refused(client: TestClient, url: str, method: str, path: str, status: int, code: str, **kwargs: Any) -> str:
    before = _state(url)
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert _state(url) == before, f"{method} {path} changed the warehouse though refused"
    return " ".join([error["message"], *(detail["message"] for detail in error.get("details") or [])])


def _document(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    # The body is exactly what the declared model makes of it.
    assert NotificationSubscription.model_validate(body).model_dump(mode="json") == body
    return body


def test_create_list_get_patch_delete(api: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = api
    headers = bearer(client, seed.a.user_id, seed.a.slug)

    everything = _document(client.post(PATH, json={"channel_id": CHANNEL}, headers=headers), 201)
    assert everything["theme"] is None and everything["is_active"] is True
    assert everything["signals"] == ["new_requests", "rising_requests", "high_risk_calls", "weekly_digest"]
    assert everything["created_by"] == f"pm@{seed.a.slug}.example"
    reporting = _document(
        client.post(
            PATH,
            json={"channel_id": CHANNEL, "theme": "reporting/pdf-export", "signals": ["weekly_digest", "new_requests"]},
            headers=headers,
        ),
        201,
    )
    assert reporting["theme"] == "reporting/pdf-export" and reporting["signals"] == ["new_requests", "weekly_digest"]

    page = client.get(PATH, headers=headers)
    assert page.status_code == 200
    listed = NotificationSubscriptionPage.model_validate(page.json())
    assert [item.id for item in listed.items] == [everything["id"], reporting["id"]] and listed.next_cursor is None
    assert _document(client.get(f"{PATH}/{reporting['id']}", headers=headers)) == reporting

    changed = _document(
        client.patch(
            f"{PATH}/{reporting['id']}",
            json={"theme": "integrations", "signals": ["rising_requests"], "is_active": False},
            headers=headers,
        )
    )
    assert (changed["theme"], changed["signals"], changed["is_active"]) == ("integrations", ["rising_requests"], False)
    assert changed["updated_at"] >= reporting["updated_at"] and changed["created_at"] == reporting["created_at"]
    # theme: null means every theme; here that is the first subscription's channel and theme: taken.
    _refused(client, url, "PATCH", f"{PATH}/{reporting['id']}", 409, "conflict", json={"theme": None}, headers=headers)

    # Deleting removes the subscription and its record of posts.
    with get_engine(url).begin() as conn:
        conn.execute(
            insert(NotificationDelivery).values(
                org_id=seed.a.id, subscription_id=reporting["id"], kind="new_request", signal_key="k", status="sent",
                attempts=1,
            )
        )  # fmt: skip
    assert _document(client.delete(f"{PATH}/{reporting['id']}", headers=headers)) == changed
    assert _state(url)["notification_deliveries"] == []
    assert client.get(f"{PATH}/{reporting['id']}", headers=headers).status_code == 404
    assert [item["id"] for item in client.get(PATH, headers=headers).json()["items"]] == [everything["id"]]


def test_refusals_change_nothing(api: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = api
    headers = bearer(client, seed.a.user_id, seed.a.slug)
    theirs = _document(
        client.post(PATH, json={"channel_id": CHANNEL}, headers=bearer(client, seed.b.user_id, seed.b.slug)), 201
    )
    ours = _document(client.post(PATH, json={"channel_id": CHANNEL, "theme": "reporting"}, headers=headers), 201)

    message = _refused(
        client,
        url,
        "POST",
        PATH,
        400,
        "invalid_value",
        json={"channel_id": CHANNEL, "theme": "billing"},
        headers=headers,
    )
    assert "billing" in message and "taxonomy" in message
    message = _refused(
        client, url, "POST", PATH, 400, "invalid_value", json={"channel_id": "#product"}, headers=headers
    )
    assert "channel id" in message
    message = _refused(
        client, url, "POST", PATH, 409, "conflict", json={"channel_id": CHANNEL, "theme": "reporting"}, headers=headers
    )
    assert f"subscription {ours['id']}" in message
    _refused(
        client,
        url,
        "POST",
        PATH,
        422,
        "invalid_request",
        json={"channel_id": CHANNEL, "signals": ["everything"]},
        headers=headers,
    )
    _refused(
        client, url, "POST", PATH, 422, "invalid_request", json={"channel_id": CHANNEL, "signals": []}, headers=headers
    )
    _refused(
        client,
        url,
        "POST",
        PATH,
        422,
        "invalid_request",
        json={"channel_id": CHANNEL, "colour": "red"},
        headers=headers,
    )
    _refused(client, url, "POST", PATH, 422, "invalid_request", json={"theme": "reporting"}, headers=headers)
    _refused(
        client, url, "PATCH", f"{PATH}/{ours['id']}", 400, "invalid_value", json={"is_active": None}, headers=headers
    )

    # Another organisation's subscription does not exist for this caller.
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"is_active": False}}), ("DELETE", {})):
        _refused(client, url, method, f"{PATH}/{theirs['id']}", 404, "not_found", headers=headers, **kwargs)
    _refused(client, url, "GET", f"{PATH}/{2**63}", 422, "invalid_request", headers=headers)
    assert [item["id"] for item in client.get(PATH, headers=headers).json()["items"]] == [ours["id"]]
    _refused(client, url, "GET", PATH, 401, "not_authenticated")
    _refused(client, url, "POST", PATH, 401, "not_authenticated", json={"channel_id": CHANNEL})


def test_service_tokens_read_and_people_write(api: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = api
    created = _document(
        client.post(PATH, json={"channel_id": CHANNEL}, headers=bearer(client, seed.a.user_id, seed.a.slug)), 201
    )
    for scopes in ((), (CATALOGUE_WRITE_SCOPE,)):
        service = _service(client, seed, *scopes)
        assert client.get(PATH, headers=service).json()["items"][0]["id"] == created["id"]
        assert _document(client.get(f"{PATH}/{created['id']}", headers=service)) == created
        message = _refused(
            client, url, "POST", PATH, 403, "forbidden", json={"channel_id": "C0999999999"}, headers=service
        )
        assert "only read" in message
        _refused(
            client,
            url,
            "PATCH",
            f"{PATH}/{created['id']}",
            403,
            "forbidden",
            json={"is_active": False},
            headers=service,
        )
        _refused(client, url, "DELETE", f"{PATH}/{created['id']}", 403, "forbidden", headers=service)
