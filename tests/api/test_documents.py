"""The read routes serialise their documents themselves: each body must be exactly what its model makes.

Read routes return `json_document(...)`, so FastAPI neither validates nor re-serialises their
documents. Here every such route, on SQLite and PostgreSQL, is held to the body its declared
`response_model` would produce from the same data: the same fields in the same order, the same
types and formats (timestamps in UTC with `Z`, dates, floats, nested objects), nothing extra.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from headway_api.api.routes import catalogue, feature_requests, insights, messages, stats, sync, themes
from tests.api.support import Warehouse

# The routers whose GET routes return `json_document`.
DOCUMENT_ROUTERS = (messages, feature_requests, catalogue, stats, themes, insights, sync)


def _requests(warehouse: Warehouse) -> list[tuple[str, str, dict[str, Any]]]:
    """(route path, request path, query) covering every document route, with full and empty pages."""
    org = warehouse.seed.a
    newest_message = org.messages[-1]["id"]  # no label, no mentions, no insight
    mentioned_message = org.mentions[0]["message_id"]  # label, a mention and an insight
    request_id = org.requests[0]["id"]
    return [
        ("/v1/messages", "/v1/messages", {"limit": 7}),
        ("/v1/messages", "/v1/messages", {"sort": "sent_at", "category": "unlabelled"}),
        ("/v1/messages", "/v1/messages", {"q": "no message says this"}),
        ("/v1/messages/{message_id}", f"/v1/messages/{mentioned_message}", {}),
        ("/v1/messages/{message_id}", f"/v1/messages/{newest_message}", {}),
        ("/v1/feature-requests", "/v1/feature-requests", {"limit": 2}),
        ("/v1/feature-requests", "/v1/feature-requests", {"sort": "-last_seen", "source": "gmail"}),
        ("/v1/feature-requests/{feature_request_id}", f"/v1/feature-requests/{request_id}", {"mentions_limit": 2}),
        ("/v1/feature-requests/{feature_request_id}/mentions", f"/v1/feature-requests/{request_id}/mentions", {}),
        # Empty here (nobody triaged the seed); tests/api/test_triage.py holds full pages to their models.
        ("/v1/feature-requests/{feature_request_id}/history", f"/v1/feature-requests/{request_id}/history", {}),
        ("/v1/catalogue/audit", "/v1/catalogue/audit", {}),
        ("/v1/stats", "/v1/stats", {"since": "2025-03-01", "until": "2025-03-20"}),
        ("/v1/stats", "/v1/stats", {"since": "2025-02-01", "until": "2025-04-30", "interval": "month"}),
        ("/v1/stats", "/v1/stats", {"since": "2024-01-01", "until": "2024-01-07"}),  # no data: null refreshed_at
        ("/v1/themes", "/v1/themes", {"limit": 3}),
        ("/v1/insights", "/v1/insights", {"limit": 2}),
        ("/v1/insights/{insight_id}", f"/v1/insights/{org.insights[1]['id']}", {}),
        ("/v1/sync-requests", "/v1/sync-requests", {}),
        ("/v1/sync-requests/{request_id}", f"/v1/sync-requests/{org.sync_requests[0]['id']}", {}),
        ("/v1/sync-runs", "/v1/sync-runs", {"limit": 2}),
        ("/v1/sync-runs/{run_id}", f"/v1/sync-runs/{org.sync_runs[1]['id']}", {}),
        ("/v1/connections", "/v1/connections", {}),
    ]


def _document_routes() -> dict[str, type[BaseModel]]:
    routes: dict[str, type[BaseModel]] = {}
    for module in DOCUMENT_ROUTERS:
        for route in module.router.routes:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                routes[route.path] = route.response_model
    return routes


def test_every_document_route_is_checked(warehouse: Warehouse) -> None:
    covered = {route for route, _path, _query in _requests(warehouse)}
    assert set(_document_routes()) == covered


def test_bodies_are_what_the_response_models_make(
    api: TestClient, warehouse: Warehouse, headers_a: dict[str, str]
) -> None:
    models = _document_routes()
    for route, path, query in _requests(warehouse):
        response = api.get(path, params=query, headers=headers_a)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        body = response.content
        model = models[route]
        assert model.model_validate_json(body).model_dump_json().encode() == body, (path, query)


@pytest.mark.parametrize(
    ("path", "item_keys"),
    [
        ("/v1/messages", {"id", "sent_at", "label", "text_preview"}),
        ("/v1/feature-requests", {"id", "customers", "sources", "first_seen"}),
    ],
)
def test_pages_are_not_empty(api: TestClient, headers_a: dict[str, str], path: str, item_keys: set[str]) -> None:
    # The comparison above means something only if the documents hold data of every kind.
    items = api.get(path, headers=headers_a).json()["items"]
    assert items and item_keys <= set(items[0])
