"""Every read endpoint through HTTP, on SQLite and PostgreSQL: filters, sorts, pagination, tenancy."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from headway_api.main import create_app
from headway_assets.core.settings import HeadwaySettings
from tests.api.support import MARCH, OrgSeed, Warehouse, api_settings, items_of, walk_pages


def _newest_first(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in sorted(rows, key=lambda row: (row["sent_at"], row["id"]), reverse=True)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- messages -------------------------------------------------------------------------------


def test_message_list_walks_every_page_newest_first(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    pages = walk_pages(api, "/v1/messages", headers_a, limit=7)
    assert [item["id"] for item in items_of(pages)] == _newest_first(org.messages)
    assert len(pages) == -(-len(org.messages) // 7)  # ceil: the last page is partial and ends the walk
    assert all(len(page["items"]) == 7 for page in pages[:-1])


def test_message_list_oldest_first_walks_to_the_last_page(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    items = items_of(walk_pages(api, "/v1/messages", headers_a, limit=9, sort="sent_at"))
    assert [item["id"] for item in items] == list(reversed(_newest_first(warehouse.seed.a.messages)))


def test_message_list_items_carry_labels_and_previews(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    items = {item["id"]: item for item in items_of(walk_pages(api, "/v1/messages", headers_a, limit=200))}
    for message in org.messages:
        item = items[message["id"]]
        assert item["text_preview"] == message["text"][:280]
        assert item["sent_at"] == _iso(message["sent_at"]).replace("+00:00", "Z")
        label = org.labels.get(message["id"])
        if label is None:
            assert item["label"] is None
        else:
            assert item["label"] == {k: label[k] for k in ("status", "is_feedback", "category", "relevance")}


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"source": "gmail"}, lambda m, label: m["source"] == "gmail"),
        ({"customer": "Initech"}, lambda m, label: m["customer"] == "Initech"),
        ({"channel": "#feedback"}, lambda m, label: m["channel"] == "#feedback"),
        ({"thread_id": "thread-2"}, lambda m, label: m["thread_id"] == "thread-2"),
        (
            {"category": "bug_report"},
            lambda m, label: label is not None and label["status"] == "labelled" and label["category"] == "bug_report",
        ),
        ({"category": "unlabelled"}, lambda m, label: label is None or label["status"] != "labelled"),
        ({"min_relevance": 6}, lambda m, label: label is not None and (label["relevance"] or -1) >= 6),
        (
            {"max_relevance": 2},
            lambda m, label: label is not None and label["relevance"] is not None and label["relevance"] <= 2,
        ),
        (
            {"min_relevance": 3, "max_relevance": 5, "source": "slack"},
            lambda m, label: m["source"] == "slack" and label is not None and label["relevance"] in (3, 4, 5),
        ),
        ({"is_feedback": "true"}, lambda m, label: label is not None and label["is_feedback"] is True),
        ({"is_feedback": "false"}, lambda m, label: label is not None and label["is_feedback"] is False),
        ({"q": "pdf export"}, lambda m, label: "pdf export" in m["text"].lower()),
        ({"q": "50%"}, lambda m, label: "50%" in m["text"]),
        ({"q": "under_score"}, lambda m, label: "under_score" in m["text"]),
        ({"q": "O'Brien"}, lambda m, label: "O'Brien" in m["text"]),
        ({"q": "%"}, lambda m, label: "%" in m["text"]),
        ({"q": "_"}, lambda m, label: "_" in m["text"]),
        ({"q": "'; DROP TABLE messages; --"}, lambda m, label: False),
        (
            {"since": _iso(MARCH + timedelta(days=2)), "until": _iso(MARCH + timedelta(days=5))},
            lambda m, label: MARCH + timedelta(days=2) <= m["sent_at"] < MARCH + timedelta(days=5),
        ),
        ({"since": "2025-03-06T00:00:00"}, lambda m, label: m["sent_at"] >= datetime(2025, 3, 6, tzinfo=UTC)),
        (
            {"until": "2025-03-04T10:00:00+02:00"},
            lambda m, label: m["sent_at"] < datetime(2025, 3, 4, 8, tzinfo=UTC),
        ),
    ],
)
def test_message_list_filters(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str], params: dict[str, Any], predicate: Any
) -> None:
    org = warehouse.seed.a
    expected = _newest_first([m for m in org.messages if predicate(m, org.labels.get(m["id"]))])
    items = items_of(walk_pages(api, "/v1/messages", headers_a, limit=4, **params))
    assert [item["id"] for item in items] == expected
    if params.get("q", "").startswith("'"):
        assert api.get("/v1/messages", headers=headers_a).json()["items"], "the table is still there"


def test_message_filters_find_something(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    # The filter table above would pass vacuously if the seed had nothing to find.
    for params in (
        {"source": "gmail"},
        {"category": "bug_report"},
        {"q": "pdf export"},
        {"category": "unlabelled"},
    ):
        assert api.get("/v1/messages", params=params, headers=headers_a).json()["items"], params


def test_message_detail_has_label_mentions_and_insight(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    mention = org.mentions[0]
    message = next(m for m in org.messages if m["id"] == mention["message_id"])
    body = api.get(f"/v1/messages/{message['id']}", headers=headers_a).json()
    assert body["text"] == message["text"]
    assert body["author_email"] == message["author_email"]
    assert body["label"]["category"] == org.labels[message["id"]]["category"]
    assert body["label"]["provider"] == "offline"
    assert [m["id"] for m in body["mentions"]] == [mention["id"]]
    assert body["mentions"][0]["evidence_quote"] == mention["evidence_quote"]
    assert body["mentions"][0]["feature_request_id"] == org.links[0]["feature_request_id"]
    assert body["insight"]["summary"] == org.message_insights[message["id"]]["summary"]
    assert body["insight"]["key_topics"] == ["reporting", "export"]


def test_message_detail_of_an_unlabelled_message(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    newest = warehouse.seed.a.messages[-1]
    body = api.get(f"/v1/messages/{newest['id']}", headers=headers_a).json()
    assert body["label"] is None and body["mentions"] == [] and body["insight"] is None


# --- feature requests -----------------------------------------------------------------------


def _order(requests: list[dict[str, Any]], key: str, descending: bool) -> list[int]:
    return [r["id"] for r in sorted(requests, key=lambda r: (r[key], r["id"]), reverse=descending)]


@pytest.mark.parametrize(
    "sort", ["-mention_count", "mention_count", "-customer_count", "customer_count", "-last_seen", "last_seen",
             "-first_seen", "first_seen", "title", "-title"],
)  # fmt: skip
def test_feature_request_sorts_walk_to_the_last_page(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str], sort: str
) -> None:
    requests = warehouse.seed.a.requests
    items = items_of(walk_pages(api, "/v1/feature-requests", headers_a, limit=1, sort=sort))
    assert [item["id"] for item in items] == _order(requests, sort.lstrip("-"), sort.startswith("-"))


def test_feature_request_items(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    requests = {r["id"]: r for r in warehouse.seed.a.requests}
    for item in api.get("/v1/feature-requests", headers=headers_a).json()["items"]:
        stored = requests[item["id"]]
        assert item["mention_count"] == stored["mention_count"]
        assert item["customers"] == stored["customers"]["names"]
        assert item["sources"] == stored["sources"]
        assert item["trend"] == stored["trend"]
        assert item["sub_theme"] == stored["sub_theme"]


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"theme": "reporting"}, lambda r, org: r["theme"] == "reporting"),
        (
            {"sub_theme": "integrations/salesforce"},
            lambda r, org: r["sub_theme"] == "integrations/salesforce",
        ),
        ({"kind": "feature_request"}, lambda r, org: True),
        ({"kind": "bug_report"}, lambda r, org: False),
        ({"trend": "rising"}, lambda r, org: r["trend"] == "rising"),
        ({"min_mentions": 3}, lambda r, org: r["mention_count"] >= 3),
        ({"q": "SYNC"}, lambda r, org: "sync" in r["title"].lower()),
        ({"q": "_"}, lambda r, org: "_" in r["title"]),
        (
            {"seen_since": _iso(MARCH + timedelta(days=9))},
            lambda r, org: r["last_seen"] >= MARCH + timedelta(days=9),
        ),
        (
            {"seen_until": _iso(MARCH + timedelta(days=2))},
            lambda r, org: r["first_seen"] < MARCH + timedelta(days=2),
        ),
        (
            {"source": "gmail"},
            lambda r, org: any(
                link["feature_request_id"] == r["id"] and m["source"] == "gmail"
                for link, m in zip(org.links, org.mentions, strict=True)
            ),
        ),
        (
            {"customer": "Initech"},
            lambda r, org: any(
                link["feature_request_id"] == r["id"] and m["customer"] == "Initech"
                for link, m in zip(org.links, org.mentions, strict=True)
            ),
        ),
    ],
)
def test_feature_request_filters(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str], params: dict[str, Any], predicate: Any
) -> None:
    org = warehouse.seed.a
    expected = _order([r for r in org.requests if predicate(r, org)], "mention_count", True)
    items = items_of(walk_pages(api, "/v1/feature-requests", headers_a, limit=2, **params))
    assert [item["id"] for item in items] == expected


def test_feature_request_detail_lists_mentions_with_links(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    request = org.requests[0]
    members = [
        m for link, m in zip(org.links, org.mentions, strict=True) if link["feature_request_id"] == request["id"]
    ]
    body = api.get(f"/v1/feature-requests/{request['id']}", params={"mentions_limit": 2}, headers=headers_a).json()
    assert body["title"] == request["title"]
    assert [m["id"] for m in body["mentions"]] == _newest_first(members)[:2]
    first = body["mentions"][0]
    message = next(m for m in org.messages if m["id"] == first["message_id"])
    assert first["message_path"] == f"/v1/messages/{message['id']}"
    assert first["message_url"] == message["url"]
    assert first["evidence_quote"] in message["text"]
    assert api.get(first["message_path"], headers=headers_a).status_code == 200
    # The detail's cursor continues in the mentions listing, to the last page.
    rest = walk_pages(api, f"/v1/feature-requests/{request['id']}/mentions", headers_a, limit=2,
                      cursor=body["mentions_next_cursor"])  # fmt: skip
    assert [m["id"] for m in body["mentions"] + items_of(rest)] == _newest_first(members)


def test_feature_request_mentions_filter_and_sort(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    request = org.requests[1]
    members = [
        m for link, m in zip(org.links, org.mentions, strict=True) if link["feature_request_id"] == request["id"]
    ]
    path = f"/v1/feature-requests/{request['id']}/mentions"
    oldest_first = items_of(walk_pages(api, path, headers_a, limit=1, sort="sent_at"))
    assert [m["id"] for m in oldest_first] == list(reversed(_newest_first(members)))
    slack = items_of(walk_pages(api, path, headers_a, source="slack"))
    assert [m["id"] for m in slack] == _newest_first([m for m in members if m["source"] == "slack"])


# --- themes ---------------------------------------------------------------------------------


def _theme_counts(org: OrgSeed, path: str, level: int) -> tuple[int, int]:
    key = "theme" if level == 1 else "sub_theme"
    members = [r for r in org.requests if r[key] == path]
    return len(members), sum(r["mention_count"] for r in members)


def test_themes_in_path_order_with_counts(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    items = items_of(walk_pages(api, "/v1/themes", headers_a, limit=2))
    assert [item["path"] for item in items] == sorted(theme["path"] for theme in org.themes)
    for item in items:
        assert (item["feature_request_count"], item["mention_count"]) == _theme_counts(org, item["path"], item["level"])
        assert item["level"] == (1 if "/" not in item["path"] else 2)
        assert item["parent_path"] == (item["path"].split("/")[0] if item["level"] == 2 else None)
    assert any(item["feature_request_count"] > 0 for item in items)


def test_themes_filters(api: TestClient, headers_a: dict[str, str]) -> None:
    top = api.get("/v1/themes", params={"level": 1}, headers=headers_a).json()["items"]
    assert [t["path"] for t in top] == ["integrations", "reporting"]
    subs = api.get("/v1/themes", params={"level": 2}, headers=headers_a).json()["items"]
    assert all(t["level"] == 2 for t in subs) and len(subs) == 3
    reporting = api.get("/v1/themes", params={"parent": "reporting"}, headers=headers_a).json()["items"]
    assert [t["path"] for t in reporting] == ["reporting/pdf-export", "reporting/scheduling"]


# --- insights -------------------------------------------------------------------------------


def test_insights_list_filters_and_pages(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    newest_first = [i["id"] for i in sorted(org.insights, key=lambda i: (i["period_start"], i["id"]), reverse=True)]
    assert [i["id"] for i in items_of(walk_pages(api, "/v1/insights", headers_a, limit=1))] == newest_first
    oldest = items_of(walk_pages(api, "/v1/insights", headers_a, limit=3, sort="period_start"))
    assert [i["id"] for i in oldest] == list(reversed(newest_first))
    weeks = items_of(walk_pages(api, "/v1/insights", headers_a, period="week"))
    assert {i["period"] for i in weeks} == {"week"} and len(weeks) == 3
    since = MARCH + timedelta(days=6)
    later = items_of(walk_pages(api, "/v1/insights", headers_a, since=_iso(since)))
    assert sorted(i["id"] for i in later) == sorted(i["id"] for i in org.insights if i["period_start"] >= since)
    until = items_of(walk_pages(api, "/v1/insights", headers_a, until=_iso(since)))
    assert sorted(i["id"] for i in until) == sorted(i["id"] for i in org.insights if i["period_start"] < since)


def test_insight_content_is_modelled(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    body = api.get(f"/v1/insights/{org.insights[1]['id']}", headers=headers_a).json()
    ask = body["content"]["rising_asks"][0]
    assert ask["feature_request_id"] == org.requests[0]["id"]
    assert ask["quotes"][0]["message_id"] == org.mentions[0]["message_id"]
    assert body["content"]["by_source"] == {"slack": {"mentions": 2}}
    month = api.get(f"/v1/insights/{org.insights[3]['id']}", headers=headers_a).json()
    assert month["content"]["new_asks"] == [] and month["content"]["by_customer"] == []  # absent keys default


# --- stats ----------------------------------------------------------------------------------


def _expected_daily(org: OrgSeed, day: date, source: str | None = None) -> dict[str, int]:
    messages = [m for m in org.messages if m["sent_at"].date() == day and source in (None, m["source"])]
    labels = [org.labels.get(m["id"]) for m in messages]
    mentions = [m for m in org.mentions if m["sent_at"].date() == day and source in (None, m["source"])]
    return {
        "messages": len(messages),
        "feedback": sum(1 for label in labels if label and label["status"] == "labelled" and label["is_feedback"]),
        "relevant": sum(1 for label in labels if label and label["status"] == "labelled" and label["relevance"] >= 6),
        "mentions": len(mentions),
    }


def test_stats_daily_series_matches_the_messages(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    org = warehouse.seed.a
    body = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-15"}, headers=headers_a).json()
    assert len(body["series"]) == 15  # zero-filled
    for point in body["series"]:
        day = date.fromisoformat(point["period_start"])
        expected = _expected_daily(org, day)
        assert {k: point[k] for k in expected} == expected, day
        assert sum(point["by_source"].values()) == expected["messages"]
        assert sum(point["by_category"].values()) == expected["messages"]
    assert body["totals"]["messages"] == sum(
        1 for m in org.messages if date(2025, 3, 1) <= m["sent_at"].date() <= date(2025, 3, 15)
    )
    assert body["totals"]["messages"] == sum(counts["messages"] for counts in body["by_source"].values())
    assert body["by_category"]["unlabelled"]["messages"] == 2  # the unlabelled and the failed message
    assert body["refreshed_at"] is not None


def test_stats_weekly_monthly_and_filters(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    weekly = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31", "interval": "week"},
                     headers=headers_a).json()  # fmt: skip
    assert [p["period_start"] for p in weekly["series"]][:2] == ["2025-02-24", "2025-03-03"]  # Mondays
    assert sum(p["messages"] for p in weekly["series"]) == len(org.messages)
    monthly = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-04-30", "interval": "month"},
                      headers=headers_a).json()  # fmt: skip
    assert [p["period_start"] for p in monthly["series"]] == ["2025-03-01", "2025-04-01"]
    assert monthly["series"][0]["messages"] == len(org.messages) and monthly["series"][1]["messages"] == 0
    gmail = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31", "source": "gmail"},
                    headers=headers_a).json()  # fmt: skip
    assert gmail["totals"]["messages"] == sum(1 for m in org.messages if m["source"] == "gmail")
    assert set(gmail["by_source"]) == {"gmail"}
    praise = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31", "category": "praise"},
                     headers=headers_a).json()  # fmt: skip
    expected = sum(1 for label in org.labels.values() if label["category"] == "praise")
    assert praise["totals"]["messages"] == expected > 0


def test_stats_default_range_is_the_last_30_days(api: TestClient, headers_a: dict[str, str]) -> None:
    body = api.get("/v1/stats", headers=headers_a).json()
    today = datetime.now(UTC).date()
    assert body["until"] == today.isoformat()
    assert body["since"] == (today - timedelta(days=29)).isoformat()
    assert len(body["series"]) == 30


# --- sync history, requests, connections ------------------------------------------------------


def test_sync_runs_filters_pages_and_detail(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    newest_first = [r["id"] for r in sorted(org.sync_runs, key=lambda r: (r["started_at"], r["id"]), reverse=True)]
    assert [r["id"] for r in items_of(walk_pages(api, "/v1/sync-runs", headers_a, limit=1))] == newest_first
    for params, predicate in (
        ({"source": "gmail"}, lambda r: r["source"] == "gmail"),
        ({"status": "failed"}, lambda r: r["status"] == "failed"),
        (
            {"connection_id": org.connections[0]["id"]},
            lambda r: r["connection_id"] == org.connections[0]["id"],
        ),
        (
            {"since": _iso(MARCH + timedelta(hours=2))},
            lambda r: r["started_at"] >= MARCH + timedelta(hours=2),
        ),
        ({"until": _iso(MARCH + timedelta(hours=2))}, lambda r: r["started_at"] < MARCH + timedelta(hours=2)),
    ):
        got = [r["id"] for r in items_of(walk_pages(api, "/v1/sync-runs", headers_a, **params))]
        assert got == [i for i in newest_first if predicate(next(r for r in org.sync_runs if r["id"] == i))], params
    partial = org.sync_runs[1]
    body = api.get(f"/v1/sync-runs/{partial['id']}", headers=headers_a).json()
    assert body["status"] == "partial" and body["items_skipped"] == 2
    assert [item["location"] for item in body["skipped_items"]] == [s["location"] for s in org.skipped]


def test_sync_requests_list_and_status(api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    org = warehouse.seed.a
    items = items_of(walk_pages(api, "/v1/sync-requests", headers_a, limit=2))
    assert [r["id"] for r in items] == sorted((r["id"] for r in org.sync_requests), reverse=True)
    failed = items_of(walk_pages(api, "/v1/sync-requests", headers_a, status="failed"))
    assert [r["source"] for r in failed] == ["gmail"]
    slack = items_of(walk_pages(api, "/v1/sync-requests", headers_a, source="slack"))
    assert {r["status"] for r in slack} == {"succeeded", "pending"}
    one = api.get(f"/v1/sync-requests/{org.sync_requests[2]['id']}", headers=headers_a).json()
    assert one["status"] == "pending" and one["last_day"] == "2025-03-05"


def test_connections_never_show_settings_or_credentials(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    response = api.get("/v1/connections", headers=headers_a)
    assert [c["name"] for c in response.json()["items"]] == ["acme-slack", "acme-gmail"]
    assert "secret" not in response.text and "config" not in response.text
    active = api.get("/v1/connections", params={"is_active": "true"}, headers=headers_a).json()["items"]
    assert [c["source"] for c in active] == ["slack"]
    gmail = api.get("/v1/connections", params={"source": "gmail"}, headers=headers_a).json()["items"]
    assert gmail[0]["last_error"] == "token revoked"


# --- tenancy ----------------------------------------------------------------------------------

LISTINGS = ("/v1/messages", "/v1/feature-requests", "/v1/themes", "/v1/insights", "/v1/sync-runs",
            "/v1/sync-requests", "/v1/connections")  # fmt: skip


@pytest.mark.parametrize("path", LISTINGS)
def test_listings_show_only_the_callers_organisation(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str], headers_b: dict[str, str], path: str
) -> None:
    ids_a = {item["id"] for item in items_of(walk_pages(api, path, headers_a, limit=50))}
    ids_b = {item["id"] for item in items_of(walk_pages(api, path, headers_b, limit=50))}
    assert ids_a and ids_b and not ids_a & ids_b


def _detail_paths(org: OrgSeed) -> list[str]:
    return [
        f"/v1/messages/{org.messages[0]['id']}",
        f"/v1/feature-requests/{org.requests[0]['id']}",
        f"/v1/feature-requests/{org.requests[0]['id']}/mentions",
        f"/v1/insights/{org.insights[0]['id']}",
        f"/v1/sync-runs/{org.sync_runs[0]['id']}",
        f"/v1/sync-requests/{org.sync_requests[0]['id']}",
    ]


def test_another_organisations_objects_are_404_like_missing_ones(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str], headers_b: dict[str, str]
) -> None:
    for own, foreign in zip(_detail_paths(warehouse.seed.b), _detail_paths(warehouse.seed.a), strict=True):
        assert api.get(own, headers=headers_b).status_code == 200, own
        refused = api.get(foreign, headers=headers_b)
        parts = foreign.split("/")
        parts[3] = "987654321"  # an id no organisation has
        missing = api.get("/".join(parts), headers=headers_b)
        assert refused.status_code == missing.status_code == 404, foreign
        assert refused.json() == missing.json()
        assert set(refused.json()) == {"error"} and refused.json()["error"]["code"] == "not_found"


def test_stats_are_per_organisation(api: TestClient, warehouse: Warehouse, headers_b: dict[str, str]) -> None:
    body = api.get("/v1/stats", params={"since": "2025-03-01", "until": "2025-03-31"}, headers=headers_b).json()
    assert body["totals"]["messages"] == len(warehouse.seed.b.messages)


# --- refused parameters -------------------------------------------------------------------------

BAD_QUERIES = [
    ("/v1/messages", {"limit": "-1"}),
    ("/v1/messages", {"limit": "0"}),
    ("/v1/messages", {"limit": "201"}),
    ("/v1/messages", {"limit": "99999999999999999999999"}),
    ("/v1/messages", {"limit": "ten"}),
    ("/v1/messages", {"sort": "text"}),
    ("/v1/messages", {"sort": "sent_at; DROP TABLE messages"}),
    ("/v1/messages", {"source": "slack' OR '1'='1"}),
    ("/v1/messages", {"category": "feature_request--"}),
    ("/v1/messages", {"min_relevance": "11"}),
    ("/v1/messages", {"since": "yesterday"}),
    ("/v1/messages", {"until": "0.5"}),  # seconds since 1970 are not an ISO 8601 date-time
    ("/v1/messages", {"since": "1700000000"}),
    ("/v1/messages", {"since": "2025-03-01"}),  # a date is not a date-time
    ("/v1/sync-runs", {"until": "0"}),
    ("/v1/stats", {"since": "0"}),  # nor a number a date
    ("/v1/messages", {"q": "x" * 201}),
    ("/v1/messages", {"q": ""}),
    ("/v1/messages", {"q": "nul\x00byte"}),
    ("/v1/messages", {"customer": "line\nbreak"}),
    ("/v1/messages", {"cursor": "not a cursor!"}),
    ("/v1/messages", {"cursor": "x" * 600}),
    ("/v1/messages", {"unknown": "1"}),
    ("/v1/feature-requests", {"sort": "popularity"}),
    ("/v1/feature-requests", {"min_mentions": "-3"}),
    ("/v1/feature-requests", {"trend": "up"}),
    ("/v1/feature-requests", {"theme": "t" * 201}),
    ("/v1/feature-requests", {"limit": "1000"}),
    ("/v1/themes", {"level": "3"}),
    ("/v1/insights", {"limit": "51"}),
    ("/v1/insights", {"period": "year"}),
    ("/v1/stats", {"interval": "hour"}),
    ("/v1/stats", {"since": "2025-02-30"}),
    ("/v1/sync-runs", {"status": "exploded"}),
    ("/v1/sync-runs", {"connection_id": "0"}),
    ("/v1/sync-requests", {"status": "'; --"}),
    ("/v1/connections", {"is_active": "maybe"}),
    ("/v1/messages/0", {}),
    ("/v1/messages/-5", {}),
    ("/v1/messages/9223372036854775808", {}),
    ("/v1/messages/1%20OR%201=1", {}),
    ("/v1/feature-requests/abc", {}),
    ("/v1/feature-requests/1", {"mentions_limit": "0"}),
    ("/v1/feature-requests/1/mentions", {"sort": "title"}),
    ("/v1/sync-runs/99999999999999999999", {}),
]


@pytest.mark.parametrize(("path", "params"), BAD_QUERIES)
def test_bad_parameters_are_422_with_the_error_body(
    api: TestClient, headers_a: dict[str, str], path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params, headers=headers_a)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"]
    assert "x" * 201 not in response.text and "DROP TABLE" not in response.text  # input is never echoed


# Each value valid by the schema, together no range: 400 invalid_range (422 is for schema violations).
RANGE_QUERIES = [
    ("/v1/messages", {"min_relevance": "7", "max_relevance": "3"}),
    ("/v1/messages", {"since": "2025-03-05T00:00:00Z", "until": "2025-03-01T00:00:00Z"}),
    ("/v1/messages", {"since": "0001-01-01T00:00:00+14:00"}),  # out of range once in UTC
    ("/v1/sync-runs", {"since": "2025-03-05T00:00:00Z", "until": "2025-03-05T00:00:00Z"}),
    ("/v1/stats", {"since": "2025-03-10", "until": "2025-03-01"}),
    ("/v1/stats", {"since": "2020-01-01", "until": "2025-01-01"}),
]


@pytest.mark.parametrize(("path", "params"), RANGE_QUERIES)
def test_reversed_or_too_long_ranges_are_400_invalid_range(
    api: TestClient, headers_a: dict[str, str], path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params, headers=headers_a)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_range" and error["details"][0]["type"] == "invalid_range"


# Strings the schema allows for `cursor` (base64url) that this API never signed.
FORGED_CURSORS = [
    "0",
    "bm90LWpzb24",  # base64 of "not-json"
    "eyJzIjoidGl0bGUiLCJrIjpbIngiLDFdfQ",  # an unsigned cursor of another sort
    "eyJzIjoiLXNlbnRfYXQiLCJrIjpbIm5vdC1hLWRhdGUiLDFdfQ",  # unsigned, a bad timestamp
    "eyJzIjoiLXNlbnRfYXQiLCJrIjpbIjIwMjUtMDMtMDFUMDA6MDA6MDAiLDFdfQ",  # unsigned, naive timestamp
    "eyJzIjoiLXNlbnRfYXQiLCJrIjpbIjIwMjUtMDMtMDFUMDA6MDA6MDBaIiwiMSJdfQ",  # unsigned, id as text
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_forged_cursors_are_400_invalid_cursor(api: TestClient, headers_a: dict[str, str], cursor: str) -> None:
    response = api.get("/v1/messages", params={"cursor": cursor}, headers=headers_a)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_cursor"
    assert error["details"][0]["loc"] == ["query", "cursor"] and error["details"][0]["type"] == "invalid_cursor"


def test_repeated_parameters_are_refused(api: TestClient, headers_a: dict[str, str]) -> None:
    response = api.get("/v1/messages?source=slack&source=gmail", headers=headers_a)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["query", "source"]


def test_cursor_from_another_listing_is_refused(api: TestClient, headers_a: dict[str, str]) -> None:
    cursor = api.get("/v1/feature-requests", params={"limit": 1}, headers=headers_a).json()["next_cursor"]
    response = api.get("/v1/messages", params={"cursor": cursor}, headers=headers_a)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert response.json()["error"]["details"][0]["loc"] == ["query", "cursor"]


def test_concurrent_cold_requests_never_starve_the_pool(warehouse: Warehouse, headers_a: dict[str, str]) -> None:
    # Forty requests at once, every one looking its caller up (the caller cache starts cold), through two connections
    # (and on SQLite two threads): each connection goes back to the pool when its statement ends.
    settings = api_settings(db_pool_size=2, db_max_overflow=0, db_threads=2, db_pool_timeout=5)
    app = create_app(settings, HeadwaySettings(database_url=warehouse.url, data_dir=warehouse.data_dir))

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            calls = [client.get("/v1/messages", params={"limit": 5}, headers=headers_a) for _ in range(40)]
            try:
                return await asyncio.gather(*calls)
            finally:
                # The transport runs no lifespan: close the pool in this loop, as the app's shutdown does.
                await app.state.headway.db.aclose()

    responses = asyncio.run(asyncio.wait_for(burst(), timeout=60))
    assert [response.status_code for response in responses] == [200] * 40


def test_unknown_routes_and_methods_use_the_error_body(api: TestClient, headers_a: dict[str, str]) -> None:
    missing = api.get("/v1/nothing-here", headers=headers_a)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = api.delete("/v1/messages", headers=headers_a)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    malformed = api.post(
        "/v1/sync-requests", content=b"{not json", headers={**headers_a, "content-type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_request"


def test_options_and_405_list_every_method_of_the_path(api: TestClient, headers_a: dict[str, str]) -> None:
    # GET and POST /v1/sync-requests are two routes: Allow names both, not only the first one found.
    options = api.options("/v1/sync-requests")
    assert options.status_code == 204 and options.content == b""
    assert options.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    wrong = api.delete("/v1/sync-requests", headers=headers_a)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert api.options("/v1/messages/1").headers["allow"] == "GET, HEAD, OPTIONS"
    assert api.put("/v1/auth/token").headers["allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2024-02-29"])
def test_a_number_or_a_bare_date_is_not_a_date_time(api: TestClient, headers_a: dict[str, str], value: str) -> None:
    # Pydantic alone reads "0.5" as half a second after 1970; the documented format is ISO 8601.
    response = api.get("/v1/messages", params={"until": value}, headers=headers_a)
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["loc"] == ["query", "until"] and detail["type"] == "datetime_format"
    assert "ISO 8601" in detail["message"] and value not in detail["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"until": "0001-01-01"},  # the default 30 days before it are not dates
        {"since": "9999-12-01", "until": "9999-12-31"},
        {"since": "9999-12-20", "until": "9999-12-31", "interval": "week"},
        {"since": "9999-01-01", "until": "9999-12-31", "interval": "month"},
    ],
)
def test_stats_at_the_ends_of_the_calendar(api: TestClient, headers_a: dict[str, str], params: dict[str, str]) -> None:
    # Found by schemathesis (`until=0001-01-01` was an OverflowError, a 500): answered, with no data.
    response = api.get("/v1/stats", params=params, headers=headers_a)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"]["messages"] == 0 and body["series"]
    assert all(point["period_start"] <= body["until"] for point in body["series"])
