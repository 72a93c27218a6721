"""Tier-1 as a Dagster asset: LLM providers through the fake servers, bounded runs, caching, tracing."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from sqlalchemy import func, select

from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.schema import LlmUsage, Message, MessageLabel
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer, Fault
from headway_assets.testing.fakes.otlp_receiver import OTLPReceiver, basic_auth_header
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-14"


def _llm(server: FakeAnthropicServer, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "anthropic",
        "base_url": server.base_url,
        "max_retries": 1,
        "timeout_seconds": 5.0,
    } | extra


def _labels(url: str) -> dict[int, Any]:
    with read_connection(url) as conn:
        return {row.message_id: row for row in conn.execute(select(MessageLabel))}


def _message_ids(url: str) -> set[int]:
    with read_connection(url) as conn:
        return set(conn.execute(select(Message.id)).scalars())


def _check(result: dg.ExecuteInProcessResult, name: str) -> bool:
    return next(e.passed for e in result.get_asset_check_evaluations() if e.check_name == name)


def test_every_message_gets_an_outcome_through_anthropic(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    # One customer's message is refused, the rest of its batch and every other call must not suffer.
    anthropic_server.add_fault(Fault.rate_limit(retry_after=0), times=2)
    # 50 a call: the day makes two concurrent calls, so each meets one 429 and its SDK retry absorbs it.
    result = materialize_assets(
        [message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server, tier1_batch_items=50)
    )
    assert result.success
    labels = _labels(seeded_warehouse)
    messages = _message_ids(seeded_warehouse)
    assert set(labels) == messages, "every message of the day has a tier-1 outcome"
    statuses = {row.status for row in labels.values()}
    assert statuses <= {"labelled", "skipped_oversized"}
    calls = anthropic_server.calls()
    assert 0 < calls < len(messages) / 3, "short messages are batched"
    assert _check(result, "every_message_has_outcome")
    metadata = result.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["llm_calls"].value == calls - 2  # the two 429s were retried inside the SDK
    assert metadata["llm_input_tokens"].value > 0
    assert metadata["llm_cost_usd"].value > 0
    assert metadata["remaining"].value == 0

    # The run's spend is recorded once per organisation whose messages it labelled.
    with read_connection(seeded_warehouse) as conn:
        recorded = conn.execute(select(LlmUsage.org_id, LlmUsage.cost_usd)).all()
        orgs = set(conn.execute(select(Message.org_id).where(Message.id.in_(messages))).scalars())
    assert {org_id for org_id, _ in recorded} == orgs and len(recorded) == len(orgs)
    assert sum(cost for _, cost in recorded) == pytest.approx(metadata["llm_cost_usd"].value, abs=1e-6)

    # Unchanged messages: a second materialisation makes zero LLM calls.
    again = materialize_assets([message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server))
    assert anthropic_server.calls() == calls
    assert again.asset_materializations_for_node("message_labels")[0].metadata["llm_calls"].value == 0
    with read_connection(seeded_warehouse) as conn:
        usage_rows = conn.execute(select(func.count()).select_from(LlmUsage)).scalar_one()
    assert usage_rows == len(recorded)  # the second run had nothing to record


def test_refusals_and_failures_are_explicit_and_retried_next_run(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    anthropic_server.add_fault(Fault.refusal())
    result = materialize_assets(
        [message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server, tier1_batch_items=50)
    )
    labels = _labels(seeded_warehouse)
    assert set(labels) == _message_ids(seeded_warehouse)
    failed = [row for row in labels.values() if row.status == "failed"]
    assert failed and all(row.error.startswith("refused") for row in failed)
    assert not _check(result, "every_message_has_outcome"), "failed labels are retried, so the day is not done"

    anthropic_server.clear_faults()
    materialize_assets([message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server))
    labels = _labels(seeded_warehouse)
    assert {row.status for row in labels.values()} <= {"labelled", "skipped_oversized"}
    assert all(row.attempts == 2 for row in labels.values() if row.status == "labelled")


def test_a_bounded_run_stops_commits_and_the_next_run_resumes(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    total = len(_message_ids(seeded_warehouse))
    seen_calls: list[int] = []
    labelled: list[int] = []
    for _ in range(10):
        result = materialize_assets(
            [message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server, max_items_per_run=25)
        )
        metadata = result.asset_materializations_for_node("message_labels")[0].metadata
        seen_calls.append(anthropic_server.calls())
        labelled.append(len(_labels(seeded_warehouse)))
        if metadata["complete"].value:
            assert _check(result, "every_message_has_outcome")
            break
        assert metadata["remaining"].value == total - labelled[-1] > 0
        assert not _check(result, "every_message_has_outcome")
    assert labelled[-1] == total
    assert labelled == sorted(labelled) and len(labelled) == -(-total // 25)
    # Finished work is never redone: a final run costs nothing.
    materialize_assets([message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server))
    assert anthropic_server.calls() == seen_calls[-1]


def test_every_llm_call_is_traced_to_langfuse_without_secrets(
    seeded_warehouse: str,
    materialize_assets: MaterializeFn,
    anthropic_server: FakeAnthropicServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    with OTLPReceiver(expected_authorization=basic_auth_header("pk-lf-test", "sk-lf-test-secret")) as receiver:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test-secret")
        monkeypatch.setenv("LANGFUSE_BASE_URL", receiver.langfuse_base_url)
        materialize_assets([message_labels], seeded_warehouse, partition=DAY, **_llm(anthropic_server))
        calls = anthropic_server.calls()
        spans = receiver.wait_for_spans(calls, timeout=10)
    llm_spans = [span for span in spans if span.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(llm_spans) == calls
    span = llm_spans[0]
    assert span.name.startswith("chat ")
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["gen_ai.request.model"] == "claude-haiku-4-5"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert "record_tier1" not in span.attributes["gen_ai.prompt"]  # the prompt, not the tool plumbing
    assert "<item id=" in span.attributes["gen_ai.prompt"]
    assert '"labels"' in span.attributes["gen_ai.completion"]
    assert span.attributes["headway.latency_ms"] >= 0
    assert span.resource_attributes["service.name"] == "headway"
    for recorded in spans:
        flat = repr(recorded.attributes) + repr(recorded.resource_attributes)
        assert DEFAULT_ANTHROPIC_KEY not in flat
        assert "sk-lf-test-secret" not in flat
