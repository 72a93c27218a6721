"""A person's tier-1 label is a constraint the pipeline honours (issue 15, item 2).

A person marks a message the model found relevant as noise, and one it called `other` as a
feature request (through the code PATCH /v1/messages/{id}/label runs). Then the pipeline runs
again in every way that could undo that: the day re-materialised, a backfill refreshing every
stale label, a change of LLM provider, and the message edited upstream. After each, both labels
hold, tier-2 follows them (the noise has no mentions in the catalogue, the feedback is
extracted), and the corrected messages never reach the new provider.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.label_corrections import set_label
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequestMention,
    Message,
    MessageExtraction,
    MessageLabel,
)
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

DAYS = ["2026-10-05", "2026-10-06", "2026-10-07"]
DAILY_AI = [message_labels, feature_mentions, feature_catalog]
ACTOR = "pm@acme.example"


def _pick(url: str) -> tuple[Any, Any]:
    """(a message with a mention in the catalogue, a message the model called `other`), both of acme."""
    with read_connection(url) as conn:
        linked = conn.execute(
            select(Message.id, Message.org_id, Message.text, Message.sent_at)
            .join(FeatureMention, FeatureMention.message_id == Message.id)
            .join(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
            .order_by(Message.sent_at, Message.id)
            .limit(1)
        ).one()
        noise = conn.execute(
            select(Message.id, Message.org_id, Message.text, Message.sent_at)
            .join(MessageLabel, MessageLabel.message_id == Message.id)
            .where(MessageLabel.category == "other", Message.org_id == linked.org_id)
            .order_by(Message.sent_at, Message.id)
            .limit(1)
        ).one()
    return linked, noise


def _assert_kept(url: str, marked_noise: int, marked_feedback: int, after: str) -> None:
    with read_connection(url) as conn:
        labels = {
            row.message_id: row
            for row in conn.execute(
                select(MessageLabel.__table__).where(MessageLabel.message_id.in_([marked_noise, marked_feedback]))
            )
        }
        hashes = dict(conn.execute(select(Message.id, Message.content_hash)).all())
        mentions = set(
            conn.execute(
                select(FeatureMention.message_id).where(FeatureMention.message_id.in_([marked_noise, marked_feedback]))
            ).scalars()
        )
        extraction = conn.execute(
            select(MessageExtraction.content_hash, MessageExtraction.status).where(
                MessageExtraction.message_id == marked_feedback
            )
        ).first()
    noise, feedback = labels[marked_noise], labels[marked_feedback]
    assert (noise.category, noise.is_feedback, noise.relevance, noise.labelled_by) == ("other", False, 0, ACTOR), after
    assert (feedback.category, feedback.relevance, feedback.labelled_by) == ("feature_request", 9, ACTOR), after
    assert noise.content_hash == hashes[marked_noise] and feedback.content_hash == hashes[marked_feedback], after
    assert marked_noise not in mentions, f"{after}: the message marked noise still has mentions"
    assert extraction is not None and extraction.content_hash == hashes[marked_feedback], (
        f"{after}: tier-2 did not extract the message marked feedback"
    )


def test_a_persons_label_survives_re_runs_backfills_a_provider_change_and_an_edit(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=DAYS[0], last=DAYS[-1]).success
    assert materialize_assets(DAILY_AI, url, first=DAYS[0], last=DAYS[-1]).success
    linked, noise = _pick(url)
    with write_transaction(url) as conn:
        dropped = set_label(conn, org_id=linked.org_id, message_id=linked.id, actor=ACTOR, category="other")
        set_label(conn, org_id=noise.org_id, message_id=noise.id, actor=ACTOR, category="feature_request", relevance=9)
    assert dropped.mentions_removed >= 1 and dropped.request_ids

    # The message marked feedback is due for tier-2 on its day's next run (the sensor requests it).
    day = noise.sent_at.date().isoformat()
    result = materialize_assets(DAILY_AI, url, partition=day)
    assert result.success
    labelled = result.asset_materializations_for_node("message_labels")[0].metadata
    assert labelled["labelled_this_run"].value == 0, "nothing was pending: the person's labels are current"
    _assert_kept(url, linked.id, noise.id, "after the day was re-materialised")

    backfill = materialize_assets(DAILY_AI, url, first=DAYS[0], last=DAYS[-1], tags={REFRESH_STALE_TAG: "true"})
    assert backfill.success
    _assert_kept(url, linked.id, noise.id, "after a backfill refreshing stale labels")

    anthropic = {"provider": "anthropic", "base_url": anthropic_server.base_url, "max_retries": 1}
    changed = materialize_assets(
        DAILY_AI, url, first=DAYS[0], last=DAYS[-1], tags={REFRESH_STALE_TAG: "true"}, **anthropic
    )
    assert changed.success
    with read_connection(url) as conn:
        providers = set(conn.execute(select(MessageLabel.provider)).scalars())
    assert providers == {"anthropic", "person"}, "every other message was labelled again by the new provider"
    _assert_kept(url, linked.id, noise.id, "after a change of LLM provider")
    prompts = {request.body["tool_choice"]["name"]: "" for request in anthropic_server.requests if request.body}
    for request in anthropic_server.requests:
        prompts[request.body["tool_choice"]["name"]] += json.dumps(request.body["messages"], ensure_ascii=False)
    assert prompts.get("record_tier1"), f"the new provider labelled the other messages: {sorted(prompts)}"
    for text in (linked.text, noise.text):
        assert text.strip()[:40] not in prompts["record_tier1"], "a message a person labelled went to tier-1"
    assert linked.text.strip()[:40] not in "".join(prompts.values()), "the message marked noise went to a model"

    # Edited upstream: the person's label stays, for the new text, and no model is asked.
    edited = f"{linked.text} (edited)"
    with write_transaction(url) as conn:
        conn.execute(
            update(Message).where(Message.id == linked.id).values(text=edited, content_hash=content_hash(edited))
        )
    before = anthropic_server.calls()
    again = materialize_assets(DAILY_AI, url, partition=linked.sent_at.date().isoformat(), **anthropic)
    assert again.success
    _assert_kept(url, linked.id, noise.id, "after the message was edited")
    labelled = again.asset_materializations_for_node("message_labels")[0].metadata
    assert labelled["kept_human_labels"].value == 1
    assert anthropic_server.calls() == before, "the edited message was sent to a model"
