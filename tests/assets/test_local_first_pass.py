"""The local first pass for hosted providers (issue 15, item 3), through the real anthropic SDK and
the fake server: messages the local model is confident are not feedback make no call and are
labelled locally (provider `local-first-pass`, the local model's name); a person's label still
wins; a re-run makes no call; without the setting every message goes to the provider."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from headway_assets.assets.local_model import FIRST_PASS_PROVIDER, FIRST_PASS_SETTING, feedback_probabilities
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.label_corrections import set_label
from headway_assets.core.warehouse.schema import Message, MessageLabel, Organization
from headway_assets.llm.registry import LOCAL_MODEL
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-14"
THRESHOLD = 0.8
ACTOR = "pm@acme.example"


def _tier1_prompts(server: FakeAnthropicServer) -> str:
    return "".join(
        json.dumps(request.body["messages"], ensure_ascii=False)
        for request in server.requests
        if isinstance(request.body, dict) and request.body.get("tool_choice", {}).get("name") == "record_tier1"
    )


def _labels(url: str) -> dict[int, Any]:
    with read_connection(url) as conn:
        return {row.message_id: row for row in conn.execute(select(MessageLabel.__table__))}


def test_confident_noise_is_labelled_locally_without_a_call(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    with read_connection(url) as conn:
        messages = conn.execute(select(Message.id, Message.org_id, Message.text)).all()
    p_not = dict(
        zip((m.id for m in messages), (1 - p for p in feedback_probabilities([m.text for m in messages])), strict=True)
    )
    confident = {m.id for m in messages if p_not[m.id] >= THRESHOLD and m.text.strip()}
    assert len(confident) >= 5, "the day has messages the local model is sure are noise"
    # A person says one of them is a feature request: their label wins over the local model.
    person = next(m for m in messages if m.id in confident)
    with write_transaction(url) as conn:
        conn.execute(update(Organization).values(settings={FIRST_PASS_SETTING: THRESHOLD}))
        set_label(conn, org_id=person.org_id, message_id=person.id, actor=ACTOR, category="feature_request")

    llm = {"provider": "anthropic", "base_url": anthropic_server.base_url, "max_retries": 1}
    result = materialize_assets([message_labels], url, partition=DAY, **llm)
    assert result.success
    labels = _labels(url)
    assert set(labels) == {m.id for m in messages}, "every message of the day has an outcome"
    local = {mid for mid, row in labels.items() if row.provider == FIRST_PASS_PROVIDER}
    assert local == confident - {person.id}, "exactly the confident noise is labelled locally"
    for mid in local:
        row = labels[mid]
        assert (row.status, row.is_feedback, row.category, row.model) == ("labelled", False, "other", LOCAL_MODEL)
        assert row.relevance < 6 and row.confidence >= THRESHOLD and row.labelled_by is None
    assert (labels[person.id].category, labels[person.id].labelled_by) == ("feature_request", ACTOR)
    sent = _tier1_prompts(anthropic_server)
    assert sent, "the other messages went to the provider"
    by_id = {m.id: m.text for m in messages}
    for mid in local | {person.id}:
        assert json.dumps(by_id[mid], ensure_ascii=False)[1:-1] not in sent, "a locally labelled message was sent"
    others = {mid for mid, row in labels.items() if row.provider == "anthropic"}
    assert others and others.isdisjoint(local)
    metadata = result.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["labelled_by_local_first_pass"].value == len(local)

    # A re-run of the unchanged day makes no call and keeps every label.
    calls = anthropic_server.calls()
    again = materialize_assets([message_labels], url, partition=DAY, **llm)
    assert again.success and anthropic_server.calls() == calls
    assert again.asset_materializations_for_node("message_labels")[0].metadata["llm_calls"].value == 0
    providers = {mid: row.provider for mid, row in labels.items()}
    assert {mid: row.provider for mid, row in _labels(url).items()} == providers


def test_without_the_setting_every_message_goes_to_the_provider(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    llm = {"provider": "anthropic", "base_url": anthropic_server.base_url, "max_retries": 1}
    assert materialize_assets([message_labels], url, partition=DAY, **llm).success
    providers = {row.provider for row in _labels(url).values()}
    assert providers == {"anthropic"}, "the first pass is off by default"
