"""A person's tier-1 label through HTTP, on SQLite and PostgreSQL: PATCH and DELETE
/v1/messages/{id}/label, what it does to the catalogue, the audit row, and refusals that change
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from headway_api.core.security import CATALOGUE_WRITE_SCOPE
from headway_api.schemas.messages import MessageLabelChange
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import (
    CatalogueAudit,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    MessageLabel,
    MessageLabelCorrection,
)
from tests.api.support import Seed, app_client, bearer, seed_warehouse, table_rows
from tests.api.test_triage import _service

TABLES = (MessageLabel, MessageLabelCorrection, FeatureMention, FeatureRequest, FeatureRequestMention, CatalogueAudit)


def state(url: str) -> dict[str, Any]:
    """Every row a label correction may touch, to prove a refused one changed nothing."""
    return table_rows(url, TABLES)


@pytest.fixture
def labels(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str]]:
    """The API over a seeded warehouse of two organisations (acme is the caller)."""
    seed = seed_warehouse(database_url)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, database_url


def _linked_message(url: str, seed: Seed) -> tuple[int, int, int]:
    """An acme message with a mention in a request: (message id, request id, request's mention count)."""
    with get_engine(url).connect() as conn:
        row = conn.execute(
            select(FeatureMention.message_id, FeatureRequestMention.feature_request_id)
            .join(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
            .where(FeatureMention.org_id == seed.a.id)
            .order_by(FeatureMention.message_id)
            .limit(1)
        ).one()
        count = conn.execute(
            select(FeatureRequest.mention_count).where(FeatureRequest.id == row.feature_request_id)
        ).scalar_one()
    return row.message_id, row.feature_request_id, count


def test_marking_a_message_noise_takes_its_mentions_out_of_the_catalogue_and_is_audited(
    labels: tuple[TestClient, Seed, str],
) -> None:
    client, seed, url = labels
    headers = bearer(client, seed.a.user_id, "acme")
    message_id, request_id, count = _linked_message(url, seed)

    response = client.patch(f"/v1/messages/{message_id}/label", json={"category": "other"}, headers=headers)
    assert response.status_code == 200, response.text
    change = MessageLabelChange.model_validate(response.json())
    assert change.label is not None
    assert (change.label.category, change.label.is_feedback, change.label.relevance) == ("other", False, 0)
    assert (change.label.provider, change.label.labelled_by) == ("person", "pm@acme.example")
    assert change.mentions_removed == 1 and change.feature_request_ids == [request_id]

    detail = client.get(f"/v1/messages/{message_id}", headers=headers).json()
    assert detail["label"]["labelled_by"] == "pm@acme.example" and detail["mentions"] == []
    with get_engine(url).connect() as conn:
        remaining = conn.execute(
            select(FeatureRequest.mention_count).where(FeatureRequest.id == request_id)
        ).scalar_one_or_none()
        links = conn.execute(
            select(func.count())
            .select_from(FeatureRequestMention)
            .where(FeatureRequestMention.feature_request_id == request_id)
        ).scalar_one()
    # The request is recounted from its links (or gone when the mention was its last).
    assert remaining == (count - 1 if count > 1 else None) and links == count - 1

    audit = client.get("/v1/catalogue/audit", headers=headers).json()["items"][0]
    assert audit["action"] == "label_message" and audit["actor"] == "pm@acme.example"
    assert audit["after"]["label"]["category"] == "other" and audit["after"]["message_id"] == message_id
    assert audit["before"]["label"]["provider"] == "offline"


def test_marking_a_message_feedback_makes_it_relevant_with_a_default_relevance(
    labels: tuple[TestClient, Seed, str],
) -> None:
    client, seed, _ = labels
    headers = bearer(client, seed.a.user_id, "acme")
    noise = next(m for m in seed.a.messages if seed.a.labels.get(m["id"], {}).get("category") == "other")

    response = client.patch(f"/v1/messages/{noise['id']}/label", json={"category": "feature_request"}, headers=headers)
    assert response.status_code == 200, response.text
    label = response.json()["label"]
    assert (label["category"], label["is_feedback"], label["relevance"]) == ("feature_request", True, 8)
    assert response.json()["mentions_removed"] == 0

    # Listing by category now finds it as a feature request.
    listed = client.get("/v1/messages", params={"category": "feature_request", "limit": 100}, headers=headers)
    assert noise["id"] in {item["id"] for item in listed.json()["items"]}


def test_withdrawing_a_label_leaves_the_message_for_tier_1_again(labels: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = labels
    headers = bearer(client, seed.a.user_id, "acme")
    message_id = seed.a.messages[1]["id"]
    assert client.patch(f"/v1/messages/{message_id}/label", json={"category": "praise"}, headers=headers).is_success

    response = client.delete(f"/v1/messages/{message_id}/label", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["label"] is None
    with get_engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(MessageLabelCorrection)).scalar_one() == 0
    assert client.get("/v1/catalogue/audit", headers=headers).json()["items"][0]["action"] == "unlabel_message"

    again = client.delete(f"/v1/messages/{message_id}/label", headers=headers)
    assert again.status_code == 404 and "nothing to clear" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"category": "wishlist"}, 422, "category"),
        ({"category": "other", "is_feedback": True}, 400, "is_feedback"),
        ({"category": "bug_report", "is_feedback": False}, 400, "is_feedback"),
        ({"category": "other", "relevance": 7}, 400, "relevance"),
        ({"category": "other", "relevance": False}, 422, "relevance"),
        ({"category": "praise", "relevance": 11}, 422, "relevance"),
        ({"category": "praise", "colour": "red"}, 422, "colour"),
    ],
)
def test_bad_labels_are_refused_and_change_nothing(
    labels: tuple[TestClient, Seed, str], body: dict[str, Any], status: int, field: str
) -> None:
    client, seed, url = labels
    headers = bearer(client, seed.a.user_id, "acme")
    message_id = seed.a.messages[0]["id"]
    before = state(url)
    response = client.patch(f"/v1/messages/{message_id}/label", json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and field in str(error), error
    assert state(url) == before


def test_another_organisations_message_and_a_read_only_token_are_refused(
    labels: tuple[TestClient, Seed, str],
) -> None:
    client, seed, url = labels
    before = state(url)
    headers = bearer(client, seed.a.user_id, "acme")
    other = client.patch(f"/v1/messages/{seed.b.messages[0]['id']}/label", json={"category": "other"}, headers=headers)
    assert other.status_code == 404
    read_only = client.patch(
        f"/v1/messages/{seed.a.messages[0]['id']}/label", json={"category": "other"}, headers=_service(client, seed)
    )
    assert read_only.status_code == 403 and CATALOGUE_WRITE_SCOPE in read_only.json()["error"]["message"]
    assert state(url) == before

    writer = _service(client, seed, CATALOGUE_WRITE_SCOPE)
    allowed = client.patch(f"/v1/messages/{seed.a.messages[0]['id']}/label", json={"category": "other"}, headers=writer)
    assert allowed.status_code == 200, allowed.text


def test_undo_restores_the_label_before_or_leaves_the_message_to_tier_1(labels: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = labels
    headers = bearer(client, seed.a.user_id, "acme")
    message_id = seed.a.messages[1]["id"]
    first = client.patch(f"/v1/messages/{message_id}/label", json={"category": "praise"}, headers=headers).json()
    second = client.patch(
        f"/v1/messages/{message_id}/label", json={"category": "bug_report", "relevance": 7}, headers=headers
    ).json()

    # The first change was overtaken by the second: undo that one first.
    refused = client.post(f"/v1/catalogue/audit/{first['audit_id']}/undo", headers=headers)
    assert refused.status_code == 409 and "labelled again since" in refused.json()["error"]["message"]

    assert client.post(f"/v1/catalogue/audit/{second['audit_id']}/undo", headers=headers).status_code == 200
    label = client.get(f"/v1/messages/{message_id}", headers=headers).json()["label"]
    assert (label["category"], label["relevance"], label["labelled_by"]) == ("praise", 8, "pm@acme.example")

    assert client.post(f"/v1/catalogue/audit/{first['audit_id']}/undo", headers=headers).status_code == 200
    assert client.get(f"/v1/messages/{message_id}", headers=headers).json()["label"] is None
    with get_engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(MessageLabelCorrection)).scalar_one() == 0
