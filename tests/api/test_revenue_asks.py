"""Revenue-weighted asks through HTTP, on SQLite and PostgreSQL (issue 16, item 3).

The seeded messages' authors are given the e-mail domains of two customers (and a free-mail
one), the real author resolution runs, and the catalogue then carries each request's distinct
customers, their summed ARR and segments: sorted, filtered, kept right when a customer's ARR
changes, other organisations' customers invisible, bad input refused without a change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from headway_api.schemas.customers import CustomerDetail
from headway_api.schemas.feature_requests import DealStage, FeatureRequestPage
from headway_api.schemas.stats import StatsResponse
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.author_resolution import resolve_message_authors
from headway_assets.core.warehouse.customers import DEAL_STAGES
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import (
    Customer,
    FeatureMention,
    FeatureRequest,
    FeatureRequestCustomer,
    FeatureRequestMention,
    Message,
    MessageAuthor,
    MessageInsight,
)
from tests.api.support import MARCH, Seed, app_client, bearer, items_of, seed_warehouse, table_rows, walk_pages

# Mentioned messages' authors, in turn: two messages of Globex often land on one request.
DOMAINS = ("globex.com", "initech.com", "globex.com", "gmail.com", "hooli.com")
WINDOW = TimeWindow(MARCH - timedelta(days=3), MARCH + timedelta(days=30))


@pytest.fixture
def revenue(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str, dict[str, dict[str, Any]]]]:
    """acme's warehouse with customers Globex, Initech and Hooli and its authors resolved to them."""
    seed = seed_warehouse(database_url)
    mentioned = {mention["message_id"] for mention in seed.a.mentions}
    with write_transaction(database_url) as conn:
        for position, message_id in enumerate(sorted(mentioned)):
            conn.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(author_email=f"person{position % 2}@{DOMAINS[position % len(DOMAINS)]}")
            )
    with app_client(database_url, tmp_path) as client:
        headers = bearer(client, seed.a.user_id, "acme")
        customers = {
            name: _create(client, headers, name=name, **body)
            for name, body in (
                ("Globex", {"arr": 120000, "segment": "enterprise", "plan": "Enterprise", "deal_stage": "closed_won",
                            "domains": ["globex.com"]}),
                ("Initech", {"arr": 30000.5, "segment": "smb", "plan": "Starter", "deal_stage": "trial",
                             "domains": ["initech.com"]}),
                ("Hooli", {"segment": "smb", "domains": ["hooli.com"]}),  # no ARR: adds 0
            )
        }  # fmt: skip
        with write_transaction(database_url) as conn:
            stats = resolve_message_authors(conn, WINDOW)
        assert stats.requests_refreshed == len(seed.a.requests) + len(seed.b.requests)  # both organisations
        yield client, seed, database_url, customers


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/customers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _truth(url: str, org_id: int) -> dict[int, tuple[int, float, list[str], set[int], int]]:
    """Per request, from the stored links and authors: (customers, ARR, segments, ids, messages)."""
    asked: dict[int, set[int]] = defaultdict(set)
    messages: dict[int, int] = defaultdict(int)
    with get_engine(url).connect() as conn:
        for request_id, customer_id in conn.execute(
            select(FeatureRequestMention.feature_request_id, MessageAuthor.customer_id)
            .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
            .join(MessageAuthor, MessageAuthor.message_id == FeatureMention.message_id)
            .where(FeatureRequestMention.org_id == org_id)
        ).tuples():
            if customer_id is not None:
                asked[request_id].add(customer_id)
                messages[request_id] += 1
        customers = {row.id: row for row in conn.execute(select(Customer).where(Customer.org_id == org_id))}
        requests = list(conn.execute(select(FeatureRequest.id).where(FeatureRequest.org_id == org_id)).scalars())
    return {
        request_id: (
            len(asked[request_id]),
            sum(customers[c].arr or 0 for c in asked[request_id]),
            sorted({customers[c].segment for c in asked[request_id] if customers[c].segment}),
            asked[request_id],
            messages[request_id],
        )
        for request_id in requests
    }


def _list(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    pages = walk_pages(client, "/v1/feature-requests", headers, **params)
    assert all(page == FeatureRequestPage.model_validate(page).model_dump(mode="json") for page in pages)
    return items_of(pages)


def test_requests_carry_distinct_customers_arr_and_segments(revenue: Any) -> None:
    client, seed, url, customers = revenue
    headers = bearer(client, seed.a.user_id, "acme")
    truth = _truth(url, seed.a.id)
    items = _list(client, headers, sort="-arr", limit=1)
    assert {item["id"] for item in items} == set(truth)
    for item in items:
        count, arr, segments, _, _ = truth[item["id"]]
        assert (item["account_count"], item["arr"], item["segments"]) == (count, arr, segments)
    # Customers are counted once however many of their messages asked: some request proves it.
    assert any(messages > count > 0 for count, _, _, _, messages in truth.values())
    assert [item["arr"] for item in items] == sorted((item["arr"] for item in items), reverse=True)
    ascending = _list(client, headers, sort="customers", limit=2)
    assert [(i["account_count"], i["id"]) for i in ascending] == sorted((i["account_count"], i["id"]) for i in items)
    assert {i["id"] for i in _list(client, headers, sort="-mentions")} == set(truth)
    momentum = [i["mentions_last_7d"] - i["mentions_prev_7d"] for i in _list(client, headers, sort="-trend", limit=1)]
    assert momentum == sorted(momentum, reverse=True)

    globex, initech = customers["Globex"], customers["Initech"]
    for query, wanted in (
        ({"segment": "enterprise"}, {r for r, t in truth.items() if globex["id"] in t[3]}),
        ({"plan": "Starter"}, {r for r, t in truth.items() if initech["id"] in t[3]}),
        ({"deal_stage": "trial"}, {r for r, t in truth.items() if initech["id"] in t[3]}),
        ({"customer_id": globex["id"]}, {r for r, t in truth.items() if globex["id"] in t[3]}),
        ({"segment": "smb", "customer_id": globex["id"]}, {r for r, t in truth.items() if len(t[3]) > 1}),
    ):
        assert wanted, query  # the seed gives every filter something to find
        assert {item["id"] for item in _list(client, headers, sort="-arr", **query)} == wanted, query

    # The customer lists its asks, those it mentioned most first.
    detail = client.get(f"/v1/customers/{globex['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    assert detail.json() == CustomerDetail.model_validate(detail.json()).model_dump(mode="json")
    asks = detail.json()["asks"]
    assert detail.json()["ask_count"] == len(asks) == len([t for t in truth.values() if globex["id"] in t[3]])
    assert [ask["mentions"] for ask in asks] == sorted((ask["mentions"] for ask in asks), reverse=True)
    assert {ask["feature_request_id"]: ask["arr"] for ask in asks} == {
        r: t[1] for r, t in truth.items() if globex["id"] in t[3]
    }


def test_a_customer_edit_moves_its_requests_at_once(revenue: Any) -> None:
    client, seed, url, customers = revenue
    headers = bearer(client, seed.a.user_id, "acme")
    initech = customers["Initech"]
    patched = client.patch(
        f"/v1/customers/{initech['id']}", json={"arr": "2M", "segment": "strategic"}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    truth = _truth(url, seed.a.id)
    top = _list(client, headers, sort="-arr")[0]
    assert initech["id"] in truth[top["id"]][3] and top["arr"] == truth[top["id"]][1] >= 2_000_000
    assert "strategic" in top["segments"]
    assert {i["id"] for i in _list(client, headers, segment="strategic")} == {
        r for r, t in truth.items() if initech["id"] in t[3]
    }
    # An import that raises Globex's ARR (matched by its domain) re-sums its requests in the same call.
    globex = customers["Globex"]
    csv = b"Company name,Company Domain Name,ARR,Segment\nGlobex,globex.com,$5M,enterprise\n"
    imported = client.post("/v1/customers/import", files={"file": ("crm.csv", csv, "text/csv")}, headers=headers)
    assert imported.status_code == 200, imported.text
    assert imported.json()["updated"] == 1 and imported.json()["rejected"] == []
    truth = _truth(url, seed.a.id)
    top = _list(client, headers, sort="-arr")[0]
    assert globex["id"] in truth[top["id"]][3] and top["arr"] == truth[top["id"]][1] >= 5_000_000
    # A re-run of the resolution changes nothing: the stored customers are already right.
    before = table_rows(url, (FeatureRequestCustomer, FeatureRequest))
    with write_transaction(url) as conn:
        assert resolve_message_authors(conn, WINDOW).requests_refreshed == 0
    assert table_rows(url, (FeatureRequestCustomer, FeatureRequest)) == before


def test_a_customer_merge_recomputes_its_requests_at_once(revenue: Any) -> None:
    client, seed, url, customers = revenue
    headers = bearer(client, seed.a.user_id, "acme")
    globex, initech = customers["Globex"], customers["Initech"]
    before = _truth(url, seed.a.id)
    # What merging Initech into Globex must give: Initech's asks become Globex's, counted once,
    # with Globex's ARR and segment only (Initech's are dropped with it).
    fields = {customers[name]["id"]: (customers[name]["arr"] or 0, customers[name]["segment"]) for name in customers}
    expected = {}
    for request_id, (_, _, _, ids, _) in before.items():
        kept = {globex["id"] if c == initech["id"] else c for c in ids}
        expected[request_id] = (len(kept), sum(fields[c][0] for c in kept), sorted({fields[c][1] for c in kept}))
    asked = [r for r, t in before.items() if initech["id"] in t[3]]
    assert [r for r in asked if globex["id"] in before[r][3]], "the seed must have requests asked by both"

    response = client.post(f"/v1/customers/{initech['id']}/merge", json={"into": globex["id"]}, headers=headers)
    assert response.status_code == 200, response.text
    detail = CustomerDetail.model_validate(response.json())
    assert detail.id == globex["id"] and detail.arr == 120000 and detail.domains == ["globex.com", "initech.com"]
    assert detail.ask_count == len([r for r, t in before.items() if t[3] & {globex["id"], initech["id"]}])
    listed = {item["id"]: item for item in _list(client, headers, sort="-arr")}
    assert {r: (i["account_count"], i["arr"], i["segments"]) for r, i in listed.items()} == expected
    for request_id in asked:  # one customer fewer, Initech's ARR gone
        assert listed[request_id]["account_count"] == before[request_id][0] - 1
        assert listed[request_id]["arr"] == before[request_id][1] - 30000.5
    # Initech's plan went with it: no customer has it any more.
    gone = client.get("/v1/feature-requests", params={"plan": "Starter"}, headers=headers)
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "unknown_value", gone.text
    # A re-run of the resolution keeps the merge (the domain moved with it): nothing to recompute.
    stored = table_rows(url, (FeatureRequestCustomer, FeatureRequest, MessageAuthor))
    with write_transaction(url) as conn:
        assert resolve_message_authors(conn, WINDOW).requests_refreshed == 0
    assert table_rows(url, (FeatureRequestCustomer, FeatureRequest, MessageAuthor)) == stored


def test_other_organisations_and_bad_input_are_refused_unchanged(revenue: Any) -> None:
    client, seed, url, customers = revenue
    headers = bearer(client, seed.a.user_id, "acme")
    theirs = _create(client, bearer(client, seed.b.user_id, seed.b.slug), name="Theirs", segment="galactic")
    tables = (Customer, FeatureRequest, FeatureRequestCustomer, MessageAuthor)
    before = table_rows(url, tables)
    for params, status, code in (
        ({"customer_id": theirs["id"]}, 400, "unknown_value"),
        ({"customer_id": 999_999}, 400, "unknown_value"),
        ({"segment": "galactic"}, 400, "unknown_value"),  # another organisation's segment
        ({"plan": "Nope"}, 400, "unknown_value"),
        ({"deal_stage": "maybe"}, 422, "invalid_request"),
        ({"customer_id": "globex"}, 422, "invalid_request"),
        ({"sort": "revenue"}, 422, "invalid_request"),
    ):
        response = client.get("/v1/feature-requests", params=params, headers=headers)
        assert response.status_code == status, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == code, params
        assert any(detail["loc"][-1] == next(iter(params)) for detail in error["details"]), error
    # The other organisation sees none of acme's asks, and acme's customer is unknown to it.
    other = bearer(client, seed.b.user_id, seed.b.slug)
    assert client.get(f"/v1/customers/{customers['Globex']['id']}", headers=other).status_code == 404
    refused = client.get("/v1/feature-requests", params={"customer_id": customers["Globex"]["id"]}, headers=other)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_value"
    theirs_truth = _truth(url, seed.b.id)
    listed = _list(client, other, sort="-arr")
    assert {item["id"] for item in listed} == set(theirs_truth) and not set(theirs_truth) & set(_truth(url, seed.a.id))
    assert all(item["account_count"] == theirs_truth[item["id"]][0] for item in listed)
    assert table_rows(url, tables) == before


def test_deal_stage_filter_takes_the_warehouse_stages() -> None:
    assert get_args(DealStage) == DEAL_STAGES


def test_stats_draw_sentiment_themes_customers_and_a_timeline(revenue: Any) -> None:
    client, seed, url, customers = revenue
    headers = bearer(client, seed.a.user_id, "acme")
    # One insight moves to another sentiment: the distribution must see it.
    with write_transaction(url) as conn:
        first = sorted(seed.a.message_insights)[0]
        conn.execute(update(MessageInsight).where(MessageInsight.message_id == first).values(sentiment="negative"))
    response = client.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == StatsResponse.model_validate(body).model_dump(mode="json")
    assert body["sentiment"] == {"negative": 1, "neutral": len(seed.a.message_insights) - 1}

    themes: dict[str, int] = defaultdict(int)
    for mention in seed.a.mentions:
        if mention["theme"]:
            themes[mention["theme"]] += 1
    assert body["top_themes"] == [
        {"theme": theme, "mentions": n} for theme, n in sorted(themes.items(), key=lambda item: (-item[1], item[0]))
    ]

    asking: dict[int, int] = defaultdict(int)
    with get_engine(url).connect() as conn:
        for customer_id in conn.execute(
            select(MessageAuthor.customer_id)
            .join(FeatureMention, FeatureMention.message_id == MessageAuthor.message_id)
            .where(FeatureMention.org_id == seed.a.id, MessageAuthor.customer_id.is_not(None))
        ).scalars():
            asking[customer_id] += 1
    names = {customer["id"]: name for name, customer in customers.items()}
    listed = [(names[row["id"]], row["arr"], row["mentions"]) for row in body["top_customers"]]
    assert listed == [
        ("Globex", 120000.0, asking[customers["Globex"]["id"]]),
        ("Initech", 30000.5, asking[customers["Initech"]["id"]]),
        ("Hooli", None, asking[customers["Hooli"]["id"]]),  # no ARR: last
    ]

    timeline = body["timeline"]
    assert len(timeline) == 30 and timeline[-1]["day"] == "2025-03-31" and timeline[0]["day"] == "2025-03-02"
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for message in seed.a.messages:
        if message["sent_at"].date().isoformat() >= "2025-03-02":
            per_day[message["sent_at"].date().isoformat()][message["source"]] += 1
    assert {point["day"]: point["by_source"] for point in timeline if point["by_source"]} == {
        day: dict(sorted(counts.items())) for day, counts in per_day.items() if day <= "2025-03-31"
    }

    # One source narrows everything; the other organisation's customers never appear.
    gong = client.get(
        "/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31", "source": "gong"}, headers=headers
    )
    assert gong.status_code == 200, gong.text
    assert all(set(point["by_source"]) <= {"gong"} for point in gong.json()["timeline"])
    assert sum(row["mentions"] for row in gong.json()["top_customers"]) < sum(n for _, _, n in listed)
    other = client.get(
        "/v1/stats",
        params={"since": "2025-03-01", "until": "2025-03-31"},
        headers=bearer(client, seed.b.user_id, seed.b.slug),
    )
    assert not {row["id"] for row in other.json()["top_customers"]} & set(names)
