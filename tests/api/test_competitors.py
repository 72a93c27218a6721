"""Competitors through HTTP, on SQLite and PostgreSQL: create, list with counts and trend, one
competitor with the asks of its messages, edit and delete; other organisations' ids, the roles
that may write, and refusals that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from headway_api.core.security import CATALOGUE_WRITE_SCOPE
from headway_api.schemas.competitors import CompetitorDetail, CompetitorPage
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import Competitor, CompetitorMention, FeatureMention
from tests.api.support import Seed, app_client, bearer, seed_warehouse, table_rows, walk_pages
from tests.api.test_triage import _service

TABLES = (Competitor, CompetitorMention)


@pytest.fixture
def market(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str]]:
    """The API over a seeded warehouse of two organisations (acme is the caller)."""
    seed = seed_warehouse(database_url)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, database_url


def _refused(client: TestClient, url: str, method: str, path: str, status: int, code: str, **kwargs: Any) -> str:
    before = table_rows(url, TABLES)
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert table_rows(url, TABLES) == before, f"{method} {path} changed the warehouse though refused"
    return " ".join([error["message"], *(detail["message"] for detail in error.get("details") or [])])


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/competitors", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == CompetitorDetail.model_validate(response.json()).model_dump(mode="json")
    return response.json()


def _mentioned(url: str, seed: Seed, competitor_id: int, mentions: list[tuple[int, str, datetime]]) -> None:
    """Competitor mentions of acme's messages: (index into acme's feature mentions, context, sent_at)."""
    rows = []
    for index, context, sent_at in mentions:
        mention = seed.a.mentions[index]
        rows.append(
            {
                "org_id": seed.a.id,
                "message_id": mention["message_id"],
                "ordinal": int(context != "comparison"),  # two contexts of one message: two rows
                "competitor_id": competitor_id,
                "context": context,
                "source": "slack",
                "sent_at": sent_at,
                "evidence_quote": mention["evidence_quote"],
                "evidence_start": 0,
                "mention_ordinal": 0,
                "provider": "offline",
                "model": "test",
                "prompt_version": "tier2-v5",
            }
        )
    with get_engine(url).begin() as conn:
        conn.execute(insert(CompetitorMention), rows)


def _as_of(url: str, seed: Seed) -> datetime:
    with get_engine(url).connect() as conn:
        latest = conn.execute(select(func.max(FeatureMention.sent_at)).where(FeatureMention.org_id == seed.a.id))
        return latest.scalar_one()


def test_create_list_get_patch_and_delete(market: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = market
    headers = bearer(client, seed.a.user_id, "acme")
    metricly = _create(client, headers, name=" Metricly ", aliases=["Metricly Cloud", "metricly", "MTR"])
    assert metricly["name"] == "Metricly" and metricly["aliases"] == ["Metricly Cloud", "MTR"]
    assert (metricly["mention_count"], metricly["trend"], metricly["asks"]) == (0, "steady", [])
    dashhub = _create(client, headers, name="DashHub")

    as_of = _as_of(url, seed)
    # Two messages in the last week, one (with two contexts) three weeks before: rising, not new.
    _mentioned(
        url,
        seed,
        metricly["id"],
        [
            (0, "comparison", as_of - timedelta(days=1)),
            (0, "pricing", as_of - timedelta(days=1)),
            (1, "switching_to", as_of - timedelta(days=2)),
            (3, "comparison", as_of - timedelta(days=20)),
        ],
    )
    pages = walk_pages(client, "/v1/competitors", headers, limit=1)
    assert all(page == CompetitorPage.model_validate(page).model_dump(mode="json") for page in pages)
    listed = {item["name"]: item for page in pages for item in page["items"]}
    assert list(listed) == ["DashHub", "Metricly"]
    counted = listed["Metricly"]
    assert counted["mention_count"] == 3
    assert counted["contexts"] == {"switching_to": 1, "comparison": 2, "pricing": 1}
    assert (counted["mentions_last_7d"], counted["mentions_prev_7d"], counted["trend"]) == (2, 0, "rising")
    assert listed["DashHub"]["mention_count"] == 0 and listed["DashHub"]["first_seen"] is None
    found = client.get("/v1/competitors", params={"q": "dash"}, headers=headers).json()["items"]
    assert [item["id"] for item in found] == [dashhub["id"]]

    detail = client.get(f"/v1/competitors/{metricly['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body == CompetitorDetail.model_validate(body).model_dump(mode="json")
    # The asks of its messages: acme's feature mentions 0 and 3 are request 0's, mention 1 is request 1's.
    requests = seed.a.requests
    assert [(ask["id"], ask["shared_messages"]) for ask in body["asks"]] == [
        (requests[0]["id"], 2),
        (requests[1]["id"], 1),
    ]
    assert len(body["recent_mentions"]) == 4 and body["recent_mentions"][-1]["context"] == "comparison"
    assert {m["feature_request_id"] for m in body["recent_mentions"]} == {requests[0]["id"], requests[1]["id"]}

    patched = client.patch(f"/v1/competitors/{metricly['id']}", json={"name": "Metricly Inc"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["aliases"] == ["Metricly Cloud", "MTR"] and patched.json()["mention_count"] == 3
    cleared = client.patch(f"/v1/competitors/{metricly['id']}", json={"aliases": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["aliases"] == []

    deleted = client.delete(f"/v1/competitors/{metricly['id']}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": metricly["id"], "name": "Metricly Inc", "mentions_removed": 4}
    assert client.get(f"/v1/competitors/{metricly['id']}", headers=headers).status_code == 404
    rows = table_rows(url, TABLES)
    assert rows["competitor_mentions"] == [], "its mentions go with it"
    assert len(rows["competitors"]) == 1


def test_refusals_change_nothing(market: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = market
    headers = bearer(client, seed.a.user_id, "acme")
    metricly = _create(client, headers, name="Metricly", aliases=["Metricly Cloud"])
    other = _create(client, headers, name="DashHub")
    path = f"/v1/competitors/{other['id']}"
    assert "already a name or alias of competitor" in _refused(
        client, url, "POST", "/v1/competitors", 409, "conflict", json={"name": "metricly cloud"}, headers=headers
    )
    _refused(client, url, "PATCH", path, 409, "conflict", json={"aliases": ["METRICLY"]}, headers=headers)
    _refused(client, url, "PATCH", path, 409, "conflict", json={"name": "Metricly"}, headers=headers)
    assert "shorter than 2 characters" in _refused(
        client, url, "PATCH", path, 400, "invalid_value", json={"aliases": ["X"]}, headers=headers
    )
    _refused(client, url, "POST", "/v1/competitors", 400, "invalid_value", json={"name": "   "}, headers=headers)
    _refused(client, url, "PATCH", path, 400, "invalid_value", json={"name": None}, headers=headers)
    _refused(client, url, "PATCH", path, 400, "invalid_value", json={"name": ""}, headers=headers)
    _refused(client, url, "PATCH", path, 400, "invalid_value", json={"aliases": [" "]}, headers=headers)
    _refused(client, url, "POST", "/v1/competitors", 422, "invalid_request", json={"name": "x" * 121}, headers=headers)
    _refused(client, url, "POST", "/v1/competitors", 422, "invalid_request", json={"aliases": ["a"]}, headers=headers)
    _refused(
        client, url, "POST", "/v1/competitors", 422, "invalid_request", json={"name": "A", "x": 1}, headers=headers
    )
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"aliases": ["ok", "bad\nline"]}, headers=headers)
    _refused(
        client, url, "PATCH", path, 422, "invalid_request", json={"aliases": [f"a{i}" for i in range(21)]},
        headers=headers,
    )  # fmt: skip
    _refused(client, url, "PATCH", "/v1/competitors/999999", 404, "not_found", json={"name": "Y"}, headers=headers)
    _refused(client, url, "DELETE", "/v1/competitors/999999", 404, "not_found", headers=headers)
    assert client.get("/v1/competitors/999999", headers=headers).status_code == 404
    assert client.get(f"/v1/competitors/{metricly['id']}", headers=headers).json()["aliases"] == ["Metricly Cloud"]


def test_other_organisations_ids_are_not_found(market: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = market
    theirs = _create(client, bearer(client, seed.b.user_id, seed.b.slug), name="Metricly", aliases=["MTR"])
    headers = bearer(client, seed.a.user_id, "acme")
    path = f"/v1/competitors/{theirs['id']}"
    assert client.get(path, headers=headers).status_code == 404
    _refused(client, url, "PATCH", path, 404, "not_found", json={"name": "Mine"}, headers=headers)
    _refused(client, url, "DELETE", path, 404, "not_found", headers=headers)
    assert client.get("/v1/competitors", headers=headers).json()["items"] == []
    # Another organisation's names are free in this one.
    assert _create(client, headers, name="Metricly", aliases=["MTR"])["id"] != theirs["id"]


def test_read_only_service_token_may_not_write(market: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = market
    reader = _service(client, seed)
    assert client.get("/v1/competitors", headers=reader).status_code == 200
    competitor = _create(client, bearer(client, seed.a.user_id, "acme"), name="Metricly")
    path = f"/v1/competitors/{competitor['id']}"
    _refused(client, url, "POST", "/v1/competitors", 403, "forbidden", json={"name": "X1"}, headers=reader)
    _refused(client, url, "PATCH", path, 403, "forbidden", json={"name": "X2"}, headers=reader)
    _refused(client, url, "DELETE", path, 403, "forbidden", headers=reader)
    writer = _service(client, seed, CATALOGUE_WRITE_SCOPE)
    assert client.post("/v1/competitors", json={"name": "Y1"}, headers=writer).status_code == 201
    assert client.get("/v1/competitors").status_code == 401
