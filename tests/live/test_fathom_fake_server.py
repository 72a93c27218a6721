"""The fake Fathom API behaves like vendor-apis.md §4 says the real one does (checked with plain httpx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from headway_assets.demo import build_demo_corpus
from headway_assets.testing.fakes.fathom_server import DEFAULT_API_KEY, FakeFathomServer, FathomFault, parse_time


@pytest.fixture(scope="module")
def meetings() -> list[dict[str, Any]]:
    """Acme's demo meetings."""
    return build_demo_corpus().org("acme").fathom.meetings


@pytest.fixture
def server(meetings: list[dict[str, Any]]) -> Iterator[FakeFathomServer]:
    with FakeFathomServer(meetings, page_size=4, access_tokens=["oauth-1"]) as fake:
        yield fake


@pytest.fixture
def client(server: FakeFathomServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": DEFAULT_API_KEY}) as http:
        yield http


def all_pages(client: httpx.Client, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get("/meetings", params=[*params, *([("cursor", cursor)] if cursor else [])])
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_pages_are_newest_first_and_end_with_a_null_cursor(
    client: httpx.Client, meetings: list[dict[str, Any]]
) -> None:
    items = all_pages(client, [])
    assert len(items) == len(meetings)
    created = [parse_time(i["created_at"]) for i in items]
    assert created == sorted(created, reverse=True)
    first = client.get("/meetings").json()
    assert first["limit"] == 4 and len(first["items"]) == 4 and isinstance(first["next_cursor"], str)


def test_include_flags_decide_which_fields_are_filled(client: httpx.Client) -> None:
    plain = client.get("/meetings").json()["items"][0]
    assert plain["transcript"] is None and plain["default_summary"] is None
    assert isinstance(plain["recording_id"], int) and "id" not in plain
    full = client.get("/meetings", params={"include_transcript": "true"}).json()["items"][0]
    assert full["transcript"] and full["transcript"][0]["timestamp"].count(":") == 2


def test_created_range_is_strict_on_created_at(client: httpx.Client, meetings: list[dict[str, Any]]) -> None:
    target = meetings[10]["created_at"]
    after = client.get("/meetings", params={"created_after": target, "created_before": "2026-12-01T00:00:00Z"})
    assert target not in {i["created_at"] for i in after.json()["items"]}
    items = all_pages(client, [("created_after", "2026-10-06T00:00:00Z"), ("created_before", "2026-10-08T00:00:00Z")])
    expected = [m for m in meetings if "2026-10-06" <= m["created_at"][:10] <= "2026-10-07"]
    assert sorted(i["recording_id"] for i in items) == sorted(m["recording_id"] for m in expected)


def test_repeated_array_parameters_filter(client: httpx.Client, meetings: list[dict[str, Any]]) -> None:
    params = [("calendar_invitees_domains[]", "globex.example"), ("calendar_invitees_domains[]", "hooli.example")]
    items = all_pages(client, params)
    domains = {"globex.example", "hooli.example"}
    expected = [m for m in meetings if domains & {i["email_domain"] for i in m["calendar_invitees"]}]
    assert items and sorted(i["recording_id"] for i in items) == sorted(m["recording_id"] for m in expected)
    internal = all_pages(client, [("calendar_invitees_domains_type", "only_internal")])
    assert internal and all(i["calendar_invitees_domains_type"] == "only_internal" for i in internal)


def test_cursor_belongs_to_its_query_and_bad_requests_are_400(client: httpx.Client) -> None:
    cursor = client.get("/meetings").json()["next_cursor"]
    assert client.get("/meetings", params={"cursor": cursor}).status_code == 200
    assert client.get("/meetings", params={"cursor": cursor, "include_transcript": "true"}).status_code == 400
    assert client.get("/meetings", params={"cursor": "garbage!"}).status_code == 400
    assert client.get("/meetings", params={"page": "2"}).status_code == 400
    assert client.get("/meetings", params={"created_after": "yesterday"}).status_code == 400
    assert len(client.get("/meetings", params={"limit": "3"}).json()["items"]) == 3


def test_auth_and_oauth_limits(server: FakeFathomServer) -> None:
    assert httpx.get(f"{server.url}/meetings").status_code == 401
    assert httpx.get(f"{server.url}/meetings", headers={"X-Api-Key": "wrong"}).status_code == 401
    bearer = {"Authorization": "Bearer oauth-1"}
    assert httpx.get(f"{server.url}/meetings", headers=bearer).status_code == 200
    refused = httpx.get(f"{server.url}/meetings", headers=bearer, params={"include_transcript": "true"})
    assert refused.status_code == 400 and "OAuth" in refused.text
    server.revoke()
    assert httpx.get(f"{server.url}/meetings", headers={"X-Api-Key": DEFAULT_API_KEY}).status_code == 401


def test_transcript_endpoint(client: httpx.Client, meetings: list[dict[str, Any]]) -> None:
    rid = meetings[2]["recording_id"]
    body = client.get(f"/recordings/{rid}/transcript").json()
    assert body == {"transcript": meetings[2]["transcript"]}
    assert client.get("/recordings/1/transcript").status_code == 404
    later = client.get(f"/recordings/{rid}/transcript", params={"destination_url": "https://x.example/in"})
    assert later.json() == {"destination_url": "https://x.example/in"}


def test_rate_limit_headers_and_faults(server: FakeFathomServer, client: httpx.Client) -> None:
    ok = client.get("/meetings")
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(ok.headers)
    server.add_fault(FathomFault.rate_limit(retry_after=1, reset_seconds=17))
    limited = client.get("/meetings")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert (limited.headers["ratelimit-remaining"], limited.headers["ratelimit-reset"]) == ("0", "17")
    server.add_fault(FathomFault.server_error(502), skip=1)
    assert client.get("/meetings").status_code == 200
    assert client.get("/meetings").status_code == 502
    server.add_fault(FathomFault.malformed())
    with pytest.raises(ValueError):
        client.get("/meetings").json()
    assert [r.fault for r in server.requests] == [None, "rate_limit", None, "server_error", "malformed"]
