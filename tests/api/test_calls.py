"""Call intelligence through HTTP, on SQLite and PostgreSQL: the call list and its filters, one call
with reasons and next steps, a customer's health over time, the risk distribution of /v1/stats,
and other organisations' ids answered 404."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from headway_api.schemas.calls import CallDetail, CallPage, CustomerHealth
from headway_api.schemas.stats import StatsResponse
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.customer_health import BASE_SCORE, call_points, refresh_customer_health
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import CallInsight, Customer, Message, MessageAuthor, MessageInsight
from tests.api.support import Seed, app_client, bearer, seed_warehouse, walk_pages

DAY = datetime(2026, 10, 5, 15, tzinfo=UTC)
TRANSCRIPT = (
    "Alex: Thanks for joining.\n"
    "Sam: Honestly we are evaluating other tools because of the outages.\n"
    "Sam: We would add twenty more seats if reporting worked.\n"
    "Alex: I'll send a recap email right after this call."
)


def _call(org_id: int, index: int, sent_at: datetime) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "source": "gong",
        "external_id": f"call-{org_id}-{index}",
        "thread_id": None,
        "channel": None,
        "author_name": "Sam",
        "author_email": "sam@globex.example",
        "author_is_internal": False,
        "customer": "Globex",
        "sent_at": sent_at,
        "title": f"Renewal call {index}",
        "text": TRANSCRIPT,
        "text_length": len(TRANSCRIPT),
        "url": f"https://app.gong.example/call?id={index}",
        "content_hash": f"{index:064x}",
        "record_hash": f"{index:064x}",
        "source_metadata": {},
    }


def _quote(text: str) -> dict[str, Any]:
    return {"quote": text, "start": TRANSCRIPT.index(text)}


def _insight(message_id: int, org_id: int, sent_at: datetime, churn: str, deal: str, expansion: str) -> dict[str, Any]:
    churn_reason = [{"reason": "Evaluating alternatives.", **_quote("Honestly we are evaluating other tools")}]
    return {
        "message_id": message_id,
        "org_id": org_id,
        "source": "gong",
        "sent_at": sent_at,
        "content_hash": "h" * 64,
        "deal_risk": deal,
        "churn_risk": churn,
        "expansion_potential": expansion,
        "reasons": {
            "deal_risk": [],
            "churn_risk": churn_reason if churn != "low" else [],
            "expansion_potential": [],
        },
        "next_steps": {
            "steps": [{"action": "send a recap email", "owner": "vendor", **_quote("I'll send a recap email")}]
        },
        "rejected_quotes": 0,
        "provider": "offline",
        "model": "headway-offline-3",
        "prompt_version": "call-v1",
        "created_at": sent_at + timedelta(hours=1),
    }


def _seed_calls(url: str, seed: Seed) -> dict[str, Any]:
    """Acme: three calls of customer Globex (two days) and one of Initech; Globex (org b): one call."""
    ids: dict[str, Any] = {}
    with write_transaction(url) as conn:
        for org, name in ((seed.a, "globex"), (seed.a, "initech"), (seed.b, "umbrella")):
            ids[name] = conn.execute(
                insert(Customer).values(org_id=org.id, name=name.title()).returning(Customer.id)
            ).scalar_one()
        plan = [
            (seed.a.id, "globex", DAY, "high", "medium", "low"),
            (seed.a.id, "globex", DAY + timedelta(hours=2), "low", "low", "high"),
            (seed.a.id, "globex", DAY + timedelta(days=1), "medium", "low", "low"),
            (seed.a.id, "initech", DAY + timedelta(days=1, hours=1), "low", "high", "medium"),
            (seed.b.id, "umbrella", DAY, "high", "high", "high"),
        ]
        calls = []
        for index, (org_id, customer, sent_at, churn, deal, expansion) in enumerate(plan, start=9000):
            message_id = conn.execute(
                insert(Message).values(**_call(org_id, index, sent_at)).returning(Message.id)
            ).scalar_one()
            conn.execute(
                insert(MessageAuthor).values(
                    message_id=message_id, org_id=org_id, customer_id=ids[customer], status="resolved"
                )
            )
            conn.execute(insert(CallInsight).values(**_insight(message_id, org_id, sent_at, churn, deal, expansion)))
            calls.append(message_id)
        # A negative message of Globex on the first day moves its health too.
        conn.execute(
            insert(MessageInsight).values(
                message_id=calls[0],
                org_id=seed.a.id,
                content_hash="i" * 64,
                summary="Unhappy with outages.",
                sentiment="negative",
                key_topics={"topics": []},
                provider="offline",
                model="m",
                prompt_version="insight-v1",
            )
        )
        refresh_customer_health(conn, TimeWindow(DAY.replace(hour=0), DAY.replace(hour=0) + timedelta(days=2)))
    ids["calls"] = calls
    return ids


@pytest.fixture
def calls_api(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, dict[str, Any]]]:
    seed = seed_warehouse(database_url)
    ids = _seed_calls(database_url, seed)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, ids


def test_calls_list_filters_and_one_call(calls_api: tuple[TestClient, Seed, dict[str, Any]]) -> None:
    client, seed, ids = calls_api
    headers = bearer(client, seed.a.user_id, "acme")
    listed = [item for page in walk_pages(client, "/v1/calls", headers, limit=2) for item in page["items"]]
    assert [item["id"] for item in listed] == list(reversed(ids["calls"][:4]))  # newest first, acme's only
    CallPage.model_validate({"items": listed})
    high_churn = client.get("/v1/calls", params={"churn_risk": "high"}, headers=headers).json()["items"]
    assert [item["id"] for item in high_churn] == [ids["calls"][0]]
    assert high_churn[0]["customer_id"] == ids["globex"] and high_churn[0]["customer_name"] == "Globex"
    initech = client.get("/v1/calls", params={"customer_id": ids["initech"]}, headers=headers).json()["items"]
    assert [(item["id"], item["deal_risk"]) for item in initech] == [(ids["calls"][3], "high")]
    # Another organisation's customer id filters to nothing; a bad level is a 422.
    assert client.get("/v1/calls", params={"customer_id": ids["umbrella"]}, headers=headers).json()["items"] == []
    assert client.get("/v1/calls", params={"churn_risk": "severe"}, headers=headers).status_code == 422

    detail = client.get(f"/v1/calls/{ids['calls'][0]}", headers=headers)
    assert detail.status_code == 200, detail.text
    call = CallDetail.model_validate(detail.json())
    assert (call.deal_risk, call.churn_risk, call.expansion_potential) == ("medium", "high", "low")
    reason = call.reasons.churn_risk[0]
    assert TRANSCRIPT[reason.start : reason.start + len(reason.quote)] == reason.quote
    assert call.next_steps[0].owner == "vendor" and call.prompt_version == "call-v1"


def test_other_organisations_calls_and_customers_are_404(calls_api: tuple[TestClient, Seed, dict[str, Any]]) -> None:
    client, seed, ids = calls_api
    headers = bearer(client, seed.a.user_id, "acme")
    other_call = ids["calls"][4]
    for path in (f"/v1/calls/{other_call}", f"/v1/customers/{ids['umbrella']}/health", "/v1/calls/999999"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    # Their own organisation sees them.
    headers_b = bearer(client, seed.b.user_id, "globex")
    assert client.get(f"/v1/calls/{other_call}", headers=headers_b).status_code == 200
    # A message that is not an assessed call is not a call.
    assert client.get(f"/v1/calls/{seed.a.messages[0]['id']}", headers=headers).status_code == 404


def test_customer_health_over_time(calls_api: tuple[TestClient, Seed, dict[str, Any]]) -> None:
    client, seed, ids = calls_api
    headers = bearer(client, seed.a.user_id, "acme")
    params = {"since": "2026-10-01", "until": "2026-10-10"}
    response = client.get(f"/v1/customers/{ids['globex']}/health", params=params, headers=headers)
    assert response.status_code == 200, response.text
    health = CustomerHealth.model_validate(response.json())
    assert health.calls == 3
    assert health.churn_risk.model_dump() == {"low": 1, "medium": 1, "high": 1}
    assert [p.period_start.isoformat() for p in health.points] == ["2026-10-05", "2026-10-06"]
    first, second = health.points
    # Day one: a high-churn/medium-deal call and a high-expansion call, and one negative message.
    assert first.calls == 2 and first.churn_risk == "high" and first.expansion_potential == "high"
    assert first.score == pytest.approx(BASE_SCORE + (-35 - 5 + 15) / 2 - 20)
    assert second.score == pytest.approx(BASE_SCORE - 15) and health.latest_score == second.score
    weekly = client.get(
        f"/v1/customers/{ids['globex']}/health", params=params | {"interval": "week"}, headers=headers
    ).json()
    assert [p["period_start"] for p in weekly["points"]] == ["2026-10-05"]
    assert weekly["points"][0]["calls"] == 3
    reversed_range = client.get(
        f"/v1/customers/{ids['globex']}/health", params={"since": "2026-10-10", "until": "2026-10-01"}, headers=headers
    )
    assert reversed_range.status_code == 400 and reversed_range.json()["error"]["code"] == "invalid_range"


def test_a_customer_merge_moves_its_calls_into_the_kept_customers_health(
    calls_api: tuple[TestClient, Seed, dict[str, Any]],
) -> None:
    client, seed, ids = calls_api
    headers = bearer(client, seed.a.user_id, "acme")
    params = {"since": "2026-10-01", "until": "2026-10-10"}
    before = client.get(f"/v1/customers/{ids['globex']}/health", params=params, headers=headers).json()
    assert [point["calls"] for point in before["points"]] == [2, 1]
    merged = client.post(f"/v1/customers/{ids['initech']}/merge", json={"into": ids["globex"]}, headers=headers)
    assert merged.status_code == 200, merged.text
    after = client.get(f"/v1/customers/{ids['globex']}/health", params=params, headers=headers).json()
    # Initech's high-deal-risk call of the 6th is Globex's now: that day reads both calls at once.
    assert after["calls"] == 4 and [point["calls"] for point in after["points"]] == [2, 2]
    assert after["points"][1]["deal_risk"] == "high" and after["points"][0] == before["points"][0]
    both = (call_points("low", "medium", "low") + call_points("high", "low", "medium")) / 2
    assert after["points"][1]["score"] == pytest.approx(BASE_SCORE + both) != before["points"][1]["score"]
    assert client.get(f"/v1/customers/{ids['initech']}/health", params=params, headers=headers).status_code == 404


def test_stats_carry_the_risk_distribution(calls_api: tuple[TestClient, Seed, dict[str, Any]]) -> None:
    client, seed, _ids = calls_api
    headers = bearer(client, seed.a.user_id, "acme")
    response = client.get("/v1/stats", params={"since": "2026-10-01", "until": "2026-10-05"}, headers=headers)
    assert response.status_code == 200, response.text
    risk = StatsResponse.model_validate(response.json()).risk_distribution
    assert risk.calls == 2  # acme's calls of the 5th; the 6th is outside the window, globex's not acme's
    assert risk.churn_risk.model_dump() == {"low": 1, "medium": 0, "high": 1}
    assert risk.deal_risk.model_dump() == {"low": 1, "medium": 1, "high": 0}
    assert risk.expansion_potential.model_dump() == {"low": 1, "medium": 0, "high": 1}
    slack_only = client.get(
        "/v1/stats", params={"since": "2026-10-01", "until": "2026-10-10", "source": "slack"}, headers=headers
    ).json()
    assert slack_only["risk_distribution"]["calls"] == 0
