"""The triage write API through HTTP, on SQLite and PostgreSQL: edits with optimistic concurrency,
merges, moves, undo, the history, the taxonomy, roles, and that refused input changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from headway_api.core.security import CATALOGUE_WRITE_SCOPE
from headway_api.schemas.feature_requests import AuditPage, CatalogueChange, FeatureRequestSummary
from headway_assets.core.warehouse.corrections import pins_of
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import (
    CatalogueAudit,
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    OrgTaxonomy,
    Theme,
)
from tests.api.support import Seed, app_client, bearer, seed_warehouse, table_rows

TABLES = (FeatureRequest, FeatureRequestMention, CataloguePin, CatalogueAudit, OrgTaxonomy, Theme)


def state(url: str) -> dict[str, Any]:
    """Every row a correction may touch, to prove a refused one changed nothing."""
    tables = table_rows(url, TABLES)
    with get_engine(url).connect() as conn:
        tables["placements"] = sorted(
            tuple(row)
            for row in conn.execute(select(FeatureMention.id, FeatureMention.theme, FeatureMention.sub_theme))
        )
    return tables


@pytest.fixture
def triage(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str]]:
    """The API over a seeded warehouse of two organisations (acme is the caller)."""
    seed = seed_warehouse(database_url)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, database_url


def _headers(client: TestClient, seed: Seed) -> dict[str, str]:
    return bearer(client, seed.a.user_id, "acme")


def _service(client: TestClient, seed: Seed, *scopes: str) -> dict[str, str]:
    codec = client.app.state.headway.tokens  # type: ignore[attr-defined]
    token = codec.issue(
        subject=f"user:{seed.a.service_user_id}", org_slug="acme", lifetime=timedelta(minutes=5), scopes=scopes
    )
    return {"Authorization": f"Bearer {token.access_token}"}


def _refused(
    client: TestClient, url: str, method: str, path: str, status: int, code: str, **kwargs: Any
) -> dict[str, Any]:
    before = state(url)
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert state(url) == before, f"{method} {path} changed the warehouse though refused"
    return error


def _links(url: str, request_id: int) -> list[tuple[int, str, bool]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            select(FeatureRequestMention.mention_id, FeatureRequestMention.match_method, FeatureRequestMention.pinned)
            .where(FeatureRequestMention.feature_request_id == request_id)
            .order_by(FeatureRequestMention.mention_id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_patch_needs_the_version_and_a_stale_one_is_refused(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    request_id = seed.a.requests[0]["id"]
    path = f"/v1/feature-requests/{request_id}"
    got = client.get(path, headers=headers)
    assert got.headers["ETag"] == '"1"'
    assert (got.json()["version"], got.json()["status"], got.json()["owner"]) == (1, "new", None)

    _refused(client, url, "PATCH", path, 428, "precondition_required", json={"status": "planned"}, headers=headers)
    changed = client.patch(
        path, json={"status": "planned", "owner": "pm@acme.example"}, headers={**headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert FeatureRequestSummary.model_validate_json(changed.content).model_dump_json().encode() == changed.content
    body = changed.json()
    assert (body["status"], body["owner"], body["version"], body["title_locked"]) == (
        "planned",
        "pm@acme.example",
        2,
        False,
    )
    # The same version again is stale: someone (we) changed it since.
    error = _refused(
        client, url, "PATCH", path, 412, "precondition_failed", json={"status": "shipped"},
        headers={**headers, "If-Match": '"1"'},
    )  # fmt: skip
    assert "version 2" in error["message"]
    # The version in the body works too; a title locks title and description against the pipeline.
    renamed = client.patch(path, json={"title": "Export reports as PDF", "version": 2}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["title"], renamed.json()["title_locked"], renamed.json()["version"]) == (
        "Export reports as PDF",
        True,
        3,
    )
    placed = client.patch(path, json={"sub_theme": "reporting/scheduling"}, headers={**headers, "If-Match": "*"})
    assert placed.status_code == 200, placed.text
    assert (placed.json()["theme"], placed.json()["sub_theme"], placed.json()["taxonomy_locked"]) == (
        "reporting",
        "reporting/scheduling",
        True,
    )

    match = {**headers, "If-Match": '"4"'}
    _refused(client, url, "PATCH", path, 400, "invalid_correction", json={"sub_theme": "reporting/nope"}, headers=match)
    _refused(client, url, "PATCH", path, 400, "invalid_correction", json={"theme": "nope"}, headers=match)
    _refused(
        client, url, "PATCH", path, 400, "invalid_correction",
        json={"theme": "integrations", "sub_theme": "reporting/pdf-export"}, headers=match,
    )  # fmt: skip
    wrong_status = _refused(client, url, "PATCH", path, 422, "invalid_request", json={"status": "done"}, headers=match)
    # One line, at the field, saying what it should be (not also "Input should be None" for the
    # union's null member, which means "not given").
    assert [(d["loc"], d["type"]) for d in wrong_status["details"]] == [(["body", "status"], "literal_error")]
    assert "'planned'" in wrong_status["details"][0]["message"]
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"status": None}, headers=match)
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"title": ""}, headers=match)
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"colour": "red"}, headers=match)
    other = f"/v1/feature-requests/{seed.b.requests[0]['id']}"
    _refused(client, url, "PATCH", other, 404, "not_found", json={"status": "planned"}, headers=match)
    _refused(
        client, url, "PATCH", "/v1/feature-requests/999999", 404, "not_found", json={"status": "new"}, headers=match
    )

    # Listings filter by status and show the triage fields.
    planned = client.get("/v1/feature-requests", params={"status": "planned"}, headers=headers).json()["items"]
    assert [(item["id"], item["owner"], item["version"]) for item in planned] == [(request_id, "pm@acme.example", 4)]
    assert client.get("/v1/feature-requests", params={"status": "shipped"}, headers=headers).json()["items"] == []

    history_response = client.get(f"{path}/history", headers=headers)
    # The route serialises its document itself: exactly what its model makes of it.
    assert (
        AuditPage.model_validate_json(history_response.content).model_dump_json().encode() == history_response.content
    )
    history = history_response.json()["items"]
    assert [entry["action"] for entry in history] == ["update", "update", "update"]
    paged = client.get(f"{path}/history", params={"limit": 2}, headers=headers).json()
    rest = client.get(f"{path}/history", params={"limit": 2, "cursor": paged["next_cursor"]}, headers=headers).json()
    assert [entry["id"] for entry in paged["items"] + rest["items"]] == [entry["id"] for entry in history]
    assert rest["next_cursor"] is None
    first = history[-1]
    assert first["actor"] == "pm@acme.example"
    assert first["before"] == {"status": "new", "owner": None, "version": 1}
    assert first["after"] == {"status": "planned", "owner": "pm@acme.example", "version": 2}
    assert client.get(f"{other}/history", headers=headers).status_code == 404


def test_roles_and_scopes(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    path = f"/v1/feature-requests/{seed.a.requests[0]['id']}"
    reader = _service(client, seed)
    assert client.get(path, headers=reader).status_code == 200
    error = _refused(
        client, url, "PATCH", path, 403, "forbidden", json={"status": "planned", "version": 1}, headers=reader
    )
    assert CATALOGUE_WRITE_SCOPE in error["message"]
    _refused(client, url, "POST", "/v1/themes", 403, "forbidden", json={"path": "billing", "name": "B"}, headers=reader)
    writer = _service(client, seed, CATALOGUE_WRITE_SCOPE)
    response = client.patch(path, json={"status": "planned", "version": 1}, headers=writer)
    assert response.status_code == 200, response.text
    history = client.get(f"{path}/history", headers=writer).json()["items"]
    assert history[0]["actor"] == "svc@acme.example"


def test_merge_moves_every_mention_and_leaves_a_tombstone(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    source, target = seed.a.requests[0]["id"], seed.a.requests[1]["id"]
    moved = [mention_id for mention_id, _, _ in _links(url, source)]
    kept = [mention_id for mention_id, _, _ in _links(url, target)]

    _refused(client, url, "POST", f"/v1/feature-requests/{source}/merge", 400, "invalid_correction",
             json={"into": source}, headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"/v1/feature-requests/{source}/merge", 404, "not_found",
             json={"into": seed.b.requests[0]["id"]}, headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"/v1/feature-requests/{seed.b.requests[0]['id']}/merge", 404, "not_found",
             json={"into": target}, headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"/v1/feature-requests/{source}/merge", 422, "invalid_request",
             json={"into": "x"}, headers=headers)  # fmt: skip

    response = client.post(f"/v1/feature-requests/{source}/merge", json={"into": target}, headers=headers)
    assert response.status_code == 200, response.text
    assert CatalogueChange.model_validate_json(response.content).model_dump_json().encode() == response.content
    change = response.json()
    assert [item["id"] for item in change["feature_requests"]] == [source, target]
    tombstone, merged = change["feature_requests"]
    assert (tombstone["merged_into"], tombstone["mention_count"], tombstone["version"]) == (target, 0, 2)
    assert (merged["mention_count"], merged["version"]) == (len(moved) + len(kept), 2)
    assert _links(url, source) == []
    links = _links(url, target)
    assert sorted(m for m, _, _ in links) == sorted(moved + kept)
    assert {(method, pinned) for m, method, pinned in links if m in moved} == {("pinned", True)}
    with get_engine(url).connect() as conn:
        pins = conn.execute(select(CataloguePin.message_id, CataloguePin.feature_request_id)).all()
        messages = dict(conn.execute(select(FeatureMention.id, FeatureMention.message_id)).tuples().all())
    assert sorted(pins) == sorted((messages[m], target) for m in moved)

    # The tombstone: GET shows where it went, listings and theme counts leave it out.
    assert client.get(f"/v1/feature-requests/{source}", headers=headers).json()["merged_into"] == target
    listed = [item["id"] for item in client.get("/v1/feature-requests", headers=headers).json()["items"]]
    assert source not in listed and target in listed
    # Merging back (a cycle) and anything involving the tombstone is refused, changing nothing.
    _refused(client, url, "POST", f"/v1/feature-requests/{target}/merge", 409, "conflict",
             json={"into": source}, headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"/v1/feature-requests/{source}/merge", 409, "conflict",
             json={"into": seed.a.requests[2]["id"]}, headers=headers)  # fmt: skip
    _refused(client, url, "PATCH", f"/v1/feature-requests/{source}", 409, "conflict",
             json={"status": "planned", "version": 2}, headers=headers)  # fmt: skip
    history = client.get(f"/v1/feature-requests/{target}/history", headers=headers).json()["items"]
    assert [(entry["action"], entry["after"]["from"]) for entry in history] == [("merged_in", source)]


def test_move_a_mention_to_another_request_and_out_to_a_new_one(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    source, target = seed.a.requests[0]["id"], seed.a.requests[1]["id"]
    first, second = (mention_id for mention_id, _, _ in _links(url, source)[:2])
    base = f"/v1/feature-requests/{source}/mentions"
    count = client.get(f"/v1/feature-requests/{source}", headers=headers).json()["mention_count"]

    _refused(client, url, "POST", f"{base}/{first}/move", 400, "invalid_correction", json={"to": source},
             headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"{base}/{first}/move", 404, "not_found", json={"to": seed.b.requests[0]["id"]},
             headers=headers)  # fmt: skip
    _refused(client, url, "POST", f"{base}/{first}/move", 400, "invalid_correction", json={"to": None},
             headers=headers)  # fmt: skip
    foreign_mention = seed.b.mentions[0]["id"]
    _refused(client, url, "POST", f"{base}/{foreign_mention}/move", 404, "not_found", json={"to": target},
             headers=headers)  # fmt: skip

    response = client.post(f"{base}/{first}/move", json={"to": target}, headers=headers)
    assert response.status_code == 200, response.text
    with get_engine(url).connect() as conn:
        mention = conn.execute(
            select(FeatureMention.message_id, FeatureMention.evidence_start, FeatureMention.title).where(
                FeatureMention.id == first
            )
        ).one()
        # What the pipeline reads to keep the placement, by message and quote (not mention id).
        assert pins_of(conn, seed.a.id) == {tuple(mention): target}
        assert pins_of(conn, seed.a.id, [mention.message_id + 10_000]) == {}
        assert pins_of(conn, seed.b.id) == {}
    after = {item["id"]: item for item in response.json()["feature_requests"]}
    assert after[source]["mention_count"] == count - 1
    assert (first, "pinned", True) in _links(url, target)

    response = client.post(f"{base}/{second}/move", json={"to": None, "title": "Schedule PDF exports"}, headers=headers)
    assert response.status_code == 200, response.text
    created = response.json()["feature_requests"][-1]
    assert (created["title"], created["origin"], created["title_locked"], created["mention_count"]) == (
        "Schedule PDF exports",
        "person",
        True,
        1,
    )
    assert _links(url, created["id"]) == [(second, "pinned", True)]
    assert client.get(f"/v1/feature-requests/{source}", headers=headers).json()["mention_count"] == count - 2


def test_undo_reverses_edits_merges_and_moves(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    source, target = seed.a.requests[0]["id"], seed.a.requests[1]["id"]
    original_source, original_target = _links(url, source), _links(url, target)

    merged = client.post(f"/v1/feature-requests/{source}/merge", json={"into": target}, headers=headers).json()
    undone = client.post(f"/v1/catalogue/audit/{merged['audit_id']}/undo", headers=headers)
    assert undone.status_code == 200, undone.text
    assert (_links(url, source), _links(url, target)) == (original_source, original_target)
    with get_engine(url).connect() as conn:
        assert conn.execute(select(CataloguePin)).all() == []
    restored = client.get(f"/v1/feature-requests/{source}", headers=headers).json()
    assert (restored["merged_into"], restored["mention_count"], restored["version"]) == (
        None,
        len(original_source),
        3,
    )
    _refused(client, url, "POST", f"/v1/catalogue/audit/{merged['audit_id']}/undo", 409, "conflict", headers=headers)
    _refused(client, url, "POST", f"/v1/catalogue/audit/{undone.json()['audit_id']}/undo", 409, "conflict",
             headers=headers)  # fmt: skip

    # An edit undone; an undo after a later edit of the same field is refused until that one is undone.
    path = f"/v1/feature-requests/{source}"
    first = client.patch(path, json={"status": "planned", "version": 3}, headers=headers)
    second = client.patch(path, json={"status": "shipped", "version": 4}, headers=headers)
    third = client.patch(path, json={"owner": "pm@acme.example", "version": 5}, headers=headers)
    assert first.status_code == second.status_code == third.status_code == 200
    history = client.get(f"{path}/history", headers=headers).json()["items"]
    first_id, second_id = history[2]["id"], history[1]["id"]
    error = _refused(client, url, "POST", f"/v1/catalogue/audit/{first_id}/undo", 409, "conflict", headers=headers)
    assert "status" in error["message"]
    assert client.post(f"/v1/catalogue/audit/{second_id}/undo", headers=headers).status_code == 200
    assert client.post(f"/v1/catalogue/audit/{first_id}/undo", headers=headers).status_code == 200
    now = client.get(path, headers=headers).json()
    # The owner (an edit of another field, not undone) stays; every undo bumped the version.
    assert (now["status"], now["owner"], now["version"]) == ("new", "pm@acme.example", 8)

    # A move out to a new request, undone: the mention is back and the new request is gone.
    mention = original_source[0][0]
    moved = client.post(f"{path}/mentions/{mention}/move", json={"to": None, "title": "Split"}, headers=headers).json()
    created = moved["feature_requests"][-1]["id"]
    assert client.post(f"/v1/catalogue/audit/{moved['audit_id']}/undo", headers=headers).status_code == 200
    assert _links(url, source) == original_source
    assert client.get(f"/v1/feature-requests/{created}", headers=headers).status_code == 404
    # Another organisation's audit entry is not found.
    other = client.post(
        f"/v1/catalogue/audit/{merged['audit_id']}/undo", headers=bearer(client, seed.b.user_id, "globex")
    )
    assert other.status_code == 404


def test_taxonomy_writes_follow_through_mentions_and_requests(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    pdf_request = seed.a.requests[0]["id"]  # filed under reporting/pdf-export

    created = client.post("/v1/themes", json={"path": "exports", "name": "Exports"}, headers=headers)
    assert created.status_code == 201, created.text
    sub = client.post("/v1/themes", json={"path": "exports/csv", "name": "CSV"}, headers=headers)
    assert sub.status_code == 201 and sub.json()["theme"]["parent_path"] == "exports"
    _refused(client, url, "POST", "/v1/themes", 409, "conflict", json={"path": "exports", "name": "Again"},
             headers=headers)  # fmt: skip
    _refused(client, url, "POST", "/v1/themes", 404, "not_found", json={"path": "nope/csv", "name": "CSV"},
             headers=headers)  # fmt: skip
    _refused(client, url, "POST", "/v1/themes", 422, "invalid_request", json={"path": "Bad Path", "name": "x"},
             headers=headers)  # fmt: skip

    # Move reporting/pdf-export under exports: mentions and the request follow.
    moved = client.patch("/v1/themes/reporting/pdf-export", json={"path": "exports/pdf"}, headers=headers)
    assert moved.status_code == 200, moved.text
    request = client.get(f"/v1/feature-requests/{pdf_request}", headers=headers).json()
    assert (request["theme"], request["sub_theme"]) == ("exports", "exports/pdf")
    with get_engine(url).connect() as conn:
        placements = set(
            conn.execute(
                select(FeatureMention.theme, FeatureMention.sub_theme).where(FeatureMention.org_id == seed.a.id)
            ).tuples()
        )
    assert ("exports", "exports/pdf") in placements and ("reporting", "reporting/pdf-export") not in placements
    # Renaming a theme's path renames its sub-themes'.
    renamed = client.patch("/v1/themes/exports", json={"path": "data-out", "name": "Data out"}, headers=headers)
    assert renamed.status_code == 200, renamed.text
    request = client.get(f"/v1/feature-requests/{pdf_request}", headers=headers).json()
    assert (request["theme"], request["sub_theme"]) == ("data-out", "data-out/pdf")
    paths = {item["path"] for item in client.get("/v1/themes", headers=headers).json()["items"]}
    assert {"data-out", "data-out/pdf", "data-out/csv"} <= paths and "exports" not in paths
    _refused(client, url, "PATCH", "/v1/themes/data-out/pdf", 409, "conflict", json={"path": "data-out/csv"},
             headers=headers)  # fmt: skip
    _refused(client, url, "PATCH", "/v1/themes/nope", 404, "not_found", json={"name": "x"}, headers=headers)

    # Retire the sub-theme into another: placements move; undo puts them back.
    before = state(url)
    retired = client.delete("/v1/themes/data-out/pdf", params={"into": "data-out/csv"}, headers=headers)
    assert retired.status_code == 200, retired.text
    request = client.get(f"/v1/feature-requests/{pdf_request}", headers=headers).json()
    assert request["sub_theme"] == "data-out/csv"
    _refused(client, url, "DELETE", "/v1/themes/nope", 404, "not_found", headers=headers)
    _refused(client, url, "DELETE", "/v1/themes/data-out", 400, "invalid_correction", params={"into": "data-out/csv"},
             headers=headers)  # fmt: skip
    undone = client.post(f"/v1/catalogue/audit/{retired.json()['audit_id']}/undo", headers=headers)
    assert undone.status_code == 200, undone.text
    after = state(url)
    assert after["placements"] == before["placements"]
    assert after["feature_requests"] == before["feature_requests"]
    assert client.get(f"/v1/feature-requests/{pdf_request}", headers=headers).json()["sub_theme"] == "data-out/pdf"
    assert [row[1] for row in after["org_taxonomies"]] == [row[1] for row in before["org_taxonomies"]]  # documents
    audit = client.get("/v1/catalogue/audit", headers=headers).json()["items"]
    assert [entry["action"] for entry in audit[:3]] == ["undo", "theme_retire", "theme_edit"]
    assert all(entry["feature_request_id"] is None for entry in audit)
    # A request can be filed under a node created through the API.
    response = client.patch(
        f"/v1/feature-requests/{pdf_request}", json={"sub_theme": "data-out/pdf", "version": 1}, headers=headers
    )
    assert response.status_code == 200, response.text


def test_a_request_emptied_by_a_move_goes_and_its_undo_brings_it_back(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = triage
    headers = _headers(client, seed)
    source, target = seed.a.requests[2]["id"], seed.a.requests[1]["id"]
    mentions = [mention_id for mention_id, _, _ in _links(url, source)]
    original = _links(url, source)
    audits = []
    for mention_id in mentions:
        response = client.post(
            f"/v1/feature-requests/{source}/mentions/{mention_id}/move", json={"to": target}, headers=headers
        )
        assert response.status_code == 200, response.text
        audits.append(response.json()["audit_id"])
    # No mention and no person's state left: the request is gone, as the pipeline would drop it.
    assert client.get(f"/v1/feature-requests/{source}", headers=headers).status_code == 404
    assert client.get(f"/v1/feature-requests/{source}/history", headers=headers).status_code == 200
    for audit_id in reversed(audits):
        assert client.post(f"/v1/catalogue/audit/{audit_id}/undo", headers=headers).status_code == 200
    back = client.get(f"/v1/feature-requests/{source}", headers=headers).json()
    assert (back["id"], back["mention_count"]) == (source, len(mentions))
    assert _links(url, source) == original


def test_concurrent_edits_of_one_version_let_exactly_one_through(triage: tuple[TestClient, Seed, str]) -> None:
    client, seed, _url = triage
    headers = {**_headers(client, seed), "If-Match": '"1"'}
    path = f"/v1/feature-requests/{seed.a.requests[0]['id']}"
    statuses = ("planned", "shipped", "declined", "in_progress")
    with ThreadPoolExecutor(len(statuses)) as pool:
        answers = list(pool.map(lambda status: client.patch(path, json={"status": status}, headers=headers), statuses))
    assert sorted(answer.status_code for answer in answers) == [200, 412, 412, 412]
    winner = next(answer.json()["status"] for answer in answers if answer.status_code == 200)
    now = client.get(path, headers=headers).json()
    assert (now["status"], now["version"]) == (winner, 2)
    assert len(client.get(f"{path}/history", headers=headers).json()["items"]) == 1
