"""Backfills through the vendor batch APIs, end to end in Dagster: a batch-mode run of the AI assets
submits and ends, the `llm_batch_results` sensor lands the batch and requests the re-run, and the
re-run makes no live call and writes what the live path writes. Against the fake Anthropic server
(real SDK), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import func, select

from headway_assets.assets.call_insights import call_insights
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.org_settings import change_org_settings, script_actor
from headway_assets.core.warehouse.schema import (
    CallInsight,
    FeatureMention,
    LlmBatch,
    LlmBatchRequest,
    LlmUsage,
    Message,
    MessageLabel,
    Organization,
)
from headway_assets.demo import DemoManifest, seed_demo
from headway_assets.llm.batches import BatchOrigin, LandedBatch
from headway_assets.orchestration.sensors import RANGE_END_TAG, RANGE_START_TAG, batch_run_requests, llm_batch_results
from headway_assets.resources.llm import CALL_MODEL_SETTING, LlmResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

FIRST, LAST = "2026-10-14", "2026-10-15"


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(responder=headway_responder) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        yield server


def _llm(server: FakeAnthropicServer, **extra: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "base_url": server.base_url, "max_retries": 1, "timeout_seconds": 5.0} | extra


def _labels(url: str) -> dict[int, tuple[Any, ...]]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(MessageLabel.message_id, MessageLabel.status, MessageLabel.category, MessageLabel.relevance)
        )
        return {row.message_id: tuple(row)[1:] for row in rows}


def _mentions(url: str) -> list[tuple[Any, ...]]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(FeatureMention.message_id, FeatureMention.ordinal, FeatureMention.title, FeatureMention.kind)
        )
        return sorted(tuple(row) for row in rows)


def _land(instance: dg.DagsterInstance, url: str, server: FakeAnthropicServer) -> list[dg.RunRequest]:
    """Evaluate the batch sensor until it lands what is open; the run requests it made."""
    resources = {"warehouse": WarehouseResource(database_url=url), "llm": LlmResource(**_llm(server))}
    for _poll in range(3):
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = llm_batch_results(context)
        assert isinstance(result, dg.SensorResult)
        if result.run_requests:
            return list(result.run_requests)
    return []


def _live_baseline(
    demo_corpus: DemoManifest, tmp_path: Path, materialize_assets: MaterializeFn, server: FakeAnthropicServer
) -> tuple[dict[int, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Labels and mentions the live path writes for the days, in a warehouse of their own."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate(url)
    with write_transaction(url) as conn:
        seed_demo(conn, demo_corpus, data_dir=tmp_path)
    materialize_assets(RAW_MESSAGE_ASSETS, url, first=FIRST, last=LAST)
    live = _llm(server, use_cache=False)
    assert materialize_assets([message_labels, feature_mentions], url, first=FIRST, last=LAST, **live).success
    return _labels(url), _mentions(url)


@pytest.mark.slow
def test_a_backfill_goes_through_batches_and_lands_what_the_live_path_writes(
    seeded_warehouse: str,
    demo_corpus: DemoManifest,
    tmp_path: Path,
    materialize_assets: MaterializeFn,
    anthropic_server: FakeAnthropicServer,
) -> None:
    server, url = anthropic_server, seeded_warehouse
    expected_labels, expected_mentions = _live_baseline(demo_corpus, tmp_path, materialize_assets, server)
    assert expected_labels and expected_mentions
    materialize_assets(RAW_MESSAGE_ASSETS, url, first=FIRST, last=LAST)
    instance = dg.DagsterInstance.ephemeral()
    batch = _llm(server, batch_mode="backfill")
    server.reset_records()

    # Tier-1 over two days: submitted as one batch, nothing live, nothing written yet.
    first = materialize_assets([message_labels], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = first.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["llm_batches_submitted"].value == 1
    assert metadata["remaining"].value == metadata["messages_in_window"].value > 0
    assert server.calls("/v1/messages") == 0 and len(server.batch_ids()) == 1
    # Run again before it lands: the same pending items are not submitted twice.
    again = materialize_assets([message_labels], url, first=FIRST, last=LAST, instance=instance, **batch)
    assert again.asset_materializations_for_node("message_labels")[0].metadata["llm_batches_submitted"].value == 0
    assert len(server.batch_ids()) == 1
    # A day the incomplete-partitions sensor re-requests meanwhile: one day is not a backfill, but
    # its items are in the open batch, so it buys nothing live either.
    one_day = materialize_assets([message_labels], url, partition=FIRST, instance=instance, **batch)
    assert one_day.asset_materializations_for_node("message_labels")[0].metadata["llm_calls"].value == 0
    assert server.calls("/v1/messages") == 0 and len(server.batch_ids()) == 1

    (request,) = _land(instance, url, server)
    assert request.asset_selection == [dg.AssetKey("message_labels")]
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (FIRST, LAST)
    assert _land(instance, url, server) == [], "a landed batch is not landed twice"

    # The requested re-run: every answer from the cache, the live path's labels.
    landed = materialize_assets([message_labels], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = landed.asset_materializations_for_node("message_labels")[0].metadata
    assert (metadata["llm_calls"].value, metadata["remaining"].value) == (0, 0)
    assert metadata["llm_cache_hits"].value > 0
    assert server.calls("/v1/messages") == 0
    assert _labels(url) == expected_labels

    # Tier-2 takes the same path.
    materialize_assets([feature_mentions], url, first=FIRST, last=LAST, instance=instance, **batch)
    assert len(server.batch_ids()) == 2 and server.calls("/v1/messages") == 0
    (request,) = _land(instance, url, server)
    assert request.asset_selection == [dg.AssetKey("feature_mentions")]
    materialize_assets([feature_mentions], url, first=FIRST, last=LAST, instance=instance, **batch)
    assert server.calls("/v1/messages") == 0
    assert _mentions(url) == expected_mentions
    with read_connection(url) as conn:
        batches = conn.execute(select(LlmBatch.task, LlmBatch.status, LlmBatch.cost_usd)).all()
    assert [(task, status) for task, status, _cost in batches] == [("tier1", "ended"), ("tier2", "ended")]
    assert all(cost > 0 for _task, _status, cost in batches)


def _call_levels(url: str) -> list[tuple[Any, ...]]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(
                CallInsight.message_id, CallInsight.deal_risk, CallInsight.churn_risk, CallInsight.expansion_potential
            )
        )
        return sorted(tuple(row) for row in rows)


def test_a_call_insights_backfill_goes_through_a_batch_and_the_rerun_writes_every_call(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    server, url = anthropic_server, seeded_warehouse
    materialize_assets(RAW_MESSAGE_ASSETS, url, first=FIRST, last=LAST)
    instance = dg.DagsterInstance.ephemeral()
    # A model assesses the calls only when asked for (the default is the local heuristics, below).
    batch = _llm(server, batch_mode="backfill", call_model="claude-haiku-4-5")
    server.reset_records()

    # The calls of two days: submitted as one batch, none answered live, none written, all pending.
    first = materialize_assets([call_insights], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = first.asset_materializations_for_node("call_insights")[0].metadata
    assert metadata["llm_batches_submitted"].value == 1
    assert metadata["remaining"].value == metadata["calls"].value > 0
    assert metadata["assessed_this_run"].value == 0 and _call_levels(url) == []
    assert server.calls("/v1/messages") == 0 and len(server.batch_ids()) == 1

    (request,) = _land(instance, url, server)
    assert request.asset_selection == [dg.AssetKey("call_insights")]
    landed = materialize_assets([call_insights], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = landed.asset_materializations_for_node("call_insights")[0].metadata
    assert (metadata["llm_calls"].value, metadata["remaining"].value) == (0, 0)
    assert metadata["assessed_this_run"].value == metadata["calls"].value == len(_call_levels(url))
    assert server.calls("/v1/messages") == 0
    with read_connection(url) as conn:
        assert conn.execute(select(LlmBatch.task, LlmBatch.status)).all() == [("call", "ended")]


def test_by_default_a_call_insights_backfill_assesses_locally_with_no_batch_and_as_the_live_path(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    server, url = anthropic_server, seeded_warehouse
    materialize_assets(RAW_MESSAGE_ASSETS, url, first=FIRST, last=LAST)
    server.reset_records()
    # Live first, then the same window again in backfill mode after the rows are gone: the same rows.
    live = materialize_assets([call_insights], url, first=FIRST, last=LAST, **_llm(server))
    live_levels = _call_levels(url)
    with write_transaction(url) as conn:
        conn.execute(CallInsight.__table__.delete())
    batch = _llm(server, batch_mode="backfill")
    backfill = materialize_assets([call_insights], url, first=FIRST, last=LAST, **batch)
    for result in (live, backfill):
        metadata = result.asset_materializations_for_node("call_insights")[0].metadata
        assert (metadata["llm_calls"].value, metadata["remaining"].value) == (0, 0)
        assert metadata["assessed_by"].value == "local-heuristics"
        assert "llm_batches_submitted" not in metadata
    assert _call_levels(url) == live_levels and len(live_levels) > 0
    assert server.calls("/v1/messages") == 0 and server.batch_ids() == []


def test_a_single_day_stays_live_in_backfill_mode(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    materialize_assets(RAW_MESSAGE_ASSETS, url, partition=FIRST)
    result = materialize_assets([message_labels], url, partition=FIRST, **_llm(anthropic_server, batch_mode="backfill"))
    metadata = result.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["remaining"].value == 0 and metadata["llm_calls"].value > 0
    assert anthropic_server.batch_ids() == [] and metadata["llm_batches_submitted"].value == 0


def test_a_batch_whose_every_request_went_again_requests_no_run_yet() -> None:
    origin = BatchOrigin("message_labels", FIRST, FIRST)
    resubmitted = LandedBatch(1, "tier1", "ended", 0, 2, 0, 0, 0, 0.0, origin, [3])
    failed_twice = LandedBatch(2, "tier1", "ended", 0, 2, 0, 0, 0, 0.0, origin, [])
    (request,) = batch_run_requests([resubmitted, failed_twice])
    assert (request.run_key, request.partition_key) == ("llm_batch:2", FIRST), "its items are back on the live path"


def _call_rows(url: str) -> list[tuple[Any, ...]]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(
                CallInsight.message_id,
                CallInsight.org_id,
                CallInsight.deal_risk,
                CallInsight.churn_risk,
                CallInsight.expansion_potential,
                CallInsight.provider,
                CallInsight.model,
            )
        )
        return sorted(tuple(row) for row in rows)


def test_a_call_insights_backfill_batches_only_the_calls_of_organisations_on_a_model(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    server, url = anthropic_server, seeded_warehouse
    materialize_assets(RAW_MESSAGE_ASSETS, url, first=FIRST, last=LAST)
    with write_transaction(url) as conn:
        orgs = dict(conn.execute(select(Organization.slug, Organization.id)).tuples().all())
        change_org_settings(conn, orgs["acme"], {CALL_MODEL_SETTING: "claude-haiku-4-5"}, script_actor("tests"))
        calls = dict(
            conn.execute(
                select(Message.org_id, func.count())
                .where(Message.source.in_(("gong", "fathom")))
                .group_by(Message.org_id)
            )
            .tuples()
            .all()
        )
    acme, northwind = orgs["acme"], orgs["northwind"]
    assert calls[acme] > 0 and calls[northwind] > 0
    instance = dg.DagsterInstance.ephemeral()
    batch = _llm(server, batch_mode="backfill")
    server.reset_records()

    # Acme's calls go to one batch; northwind's are assessed in-process at once.
    first = materialize_assets([call_insights], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = first.asset_materializations_for_node("call_insights")[0].metadata
    assert metadata["llm_batches_submitted"].value == 1 and server.calls("/v1/messages") == 0
    assert (metadata["assessed_this_run"].value, metadata["remaining"].value) == (calls[northwind], calls[acme])
    with read_connection(url) as conn:
        batched = sum(len(items) for items in conn.execute(select(LlmBatchRequest.items)).scalars())
    assert batched == calls[acme]

    (request,) = _land(instance, url, server)
    assert request.asset_selection == [dg.AssetKey("call_insights")]
    landed = materialize_assets([call_insights], url, first=FIRST, last=LAST, instance=instance, **batch)
    metadata = landed.asset_materializations_for_node("call_insights")[0].metadata
    assert (metadata["llm_calls"].value, metadata["remaining"].value) == (0, 0)
    assert metadata["assessed_this_run"].value == calls[acme]
    through_batch = _call_rows(url)
    assert {(row[1], row[5], row[6]) for row in through_batch} == {
        (acme, "anthropic", "claude-haiku-4-5"),
        (northwind, "local-heuristics", "headway-call-cues-1"),
    }

    # The live path, asking the model afresh, writes the same rows.
    with write_transaction(url) as conn:
        conn.execute(CallInsight.__table__.delete())
    live = materialize_assets([call_insights], url, first=FIRST, last=LAST, **_llm(server, use_cache=False))
    assert live.asset_materializations_for_node("call_insights")[0].metadata["llm_calls"].value > 0
    assert _call_rows(url) == through_batch
    with read_connection(url) as conn:
        assert set(conn.execute(select(LlmUsage.org_id).where(LlmUsage.asset == "call_insights")).scalars()) == {acme}
