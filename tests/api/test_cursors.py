"""Signed page cursors, through HTTP: a cursor continues only the list and sort that issued it.

A cursor is base64url of a 16-byte HMAC-SHA256 tag and a JSON document; any change to either,
one signed under another key, or one from another list or sort is refused with 400
`invalid_cursor`, and every paginated route documents that answer.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway_api import pagination
from headway_api.pagination import TAG_BYTES, configure_cursor_key, derive_cursor_key
from tests.api.support import JWT_SECRET, Warehouse


def _unpack(cursor: str) -> tuple[bytes, dict[str, Any]]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return raw[:TAG_BYTES], json.loads(raw[TAG_BYTES:])


def _pack(tag: bytes, document: dict[str, Any]) -> str:
    payload = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(tag + payload).rstrip(b"=").decode()


def _first_cursor(api: TestClient, headers: dict[str, str], path: str, **params: Any) -> str:
    response = api.get(path, params={"limit": 2, **params}, headers=headers)
    assert response.status_code == 200, response.text
    cursor = response.json()["next_cursor"]
    assert isinstance(cursor, str) and cursor
    return cursor


def _refused(api: TestClient, headers: dict[str, str], path: str, cursor: str, **params: Any) -> dict[str, Any]:
    response = api.get(path, params={"limit": 2, "cursor": cursor, **params}, headers=headers)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid_cursor"
    assert error["details"] == [{"loc": ["query", "cursor"], "message": error["details"][0]["message"],
                                 "type": "invalid_cursor"}]  # fmt: skip
    return error


def test_a_cursor_round_trips_to_the_next_page(api: TestClient, headers_a: dict[str, str]) -> None:
    first = api.get("/v1/messages", params={"limit": 3}, headers=headers_a).json()
    second = api.get("/v1/messages", params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers_a)
    assert second.status_code == 200, second.text
    first_ids = [item["id"] for item in first["items"]]
    second_items = second.json()["items"]
    assert len(second_items) == 3 and not {item["id"] for item in second_items} & set(first_ids)
    # Newest first: the second page starts where the first ended.
    assert second_items[0]["sent_at"] <= first["items"][-1]["sent_at"]


def test_a_cursor_is_signed(api: TestClient, headers_a: dict[str, str]) -> None:
    tag, document = _unpack(_first_cursor(api, headers_a, "/v1/messages"))
    assert document["s"] == "-sent_at" and len(document["k"]) == 2
    assert tag != b"\x00" * TAG_BYTES


@pytest.mark.parametrize("part", ["key", "tag"])
def test_an_altered_cursor_is_refused(api: TestClient, headers_a: dict[str, str], part: str) -> None:
    tag, document = _unpack(_first_cursor(api, headers_a, "/v1/messages"))
    if part == "key":
        document["k"][1] += 1  # skip a row: move the position the cursor points at
    else:
        tag = bytes([tag[0] ^ 1]) + tag[1:]
    error = _refused(api, headers_a, "/v1/messages", _pack(tag, document))
    assert "forged, altered or from another list" in error["details"][0]["message"]


def test_an_unsigned_or_forged_cursor_is_refused(api: TestClient, headers_a: dict[str, str]) -> None:
    _, document = _unpack(_first_cursor(api, headers_a, "/v1/messages"))
    unsigned = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()  # the old format
    _refused(api, headers_a, "/v1/messages", unsigned)
    _refused(api, headers_a, "/v1/messages", _pack(b"\x00" * TAG_BYTES, document))


def test_a_cursor_signed_with_another_key_is_refused(api: TestClient, headers_a: dict[str, str]) -> None:
    # What another deployment (another secret) would have issued for the same position.
    document = _unpack(_first_cursor(api, headers_a, "/v1/messages"))[1]
    payload = json.dumps(document, separators=(",", ":")).encode()
    configure_cursor_key(derive_cursor_key(b"another deployment's secret, 32 bytes or more"))
    try:
        foreign = base64.urlsafe_b64encode(pagination._tag("messages", payload) + payload).rstrip(b"=").decode()
    finally:
        configure_cursor_key(derive_cursor_key(JWT_SECRET.encode()))
    _refused(api, headers_a, "/v1/messages", foreign)


def test_a_cursor_of_another_sort_is_refused(api: TestClient, headers_a: dict[str, str]) -> None:
    oldest_first = _first_cursor(api, headers_a, "/v1/messages", sort="sent_at")
    error = _refused(api, headers_a, "/v1/messages", oldest_first, sort="-sent_at")
    assert "another sort order" in error["details"][0]["message"]


def test_a_cursor_of_another_list_with_the_same_sort_is_refused(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    # A feature request's mentions sort by `-sent_at` too; the signature binds the cursor to its list.
    request_id = warehouse.seed.a.requests[0]["id"]
    mentions = _first_cursor(api, headers_a, f"/v1/feature-requests/{request_id}/mentions", limit=1)
    assert _unpack(mentions)[1]["s"] == "-sent_at"
    _refused(api, headers_a, "/v1/messages", mentions)
    themes = _first_cursor(api, headers_a, "/v1/themes", limit=1)
    _refused(api, headers_a, "/v1/sync-requests", themes)


def test_every_paginated_route_documents_invalid_cursor(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    paginated = [
        (path, operation)
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))
    ]
    assert len(paginated) >= 8
    for path, operation in paginated:
        answer = operation["responses"].get("400")
        assert answer is not None, path
        assert "invalid_cursor" in answer["description"], path
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
