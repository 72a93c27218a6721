"""The Anthropic and OpenAI providers through the real SDKs against the fake servers, fault by fault.

Every item must end with an outcome: a label, or a failure with a status and a reason.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import migrate
from headway_assets.llm.cache import LlmCache
from headway_assets.llm.engine import EngineConfig, LlmEngine, LlmFailure
from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
from headway_assets.llm.providers.base import LlmProvider, retry_after_seconds
from headway_assets.llm.providers.openai_provider import OpenAIProvider
from headway_assets.llm.schemas import Tier1Label
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2
from headway_assets.testing.fakes.headway_responder import headway_responder, tier1_items
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer, FakeLLMServer, Fault

TEXTS = [
    "Could you add SSO with Okta? Our IT team will not approve the renewal without it.",
    "The CSV export fails with a 500 error whenever the report has more than 10k rows.",
    "Thanks, see you at the standup tomorrow!",
    "How do I change the timezone of a scheduled report?",
    "Love the new dashboard builder, it saved us hours this week.",
    "Honestly the week view is painfully slow with 40 providers, my front desk hates it.",
]
MODELS = {TIER1: "model-t1", TIER2: "model-t2", INSIGHT: "model-in", MATCH: "model-m"}


def _provider(server: FakeLLMServer, *, timeout: float = 5.0, retries: int = 2) -> LlmProvider:
    kwargs: dict[str, Any] = server.client_kwargs()
    if isinstance(server, FakeAnthropicServer):
        return AnthropicProvider(
            api_key=kwargs["api_key"], base_url=kwargs["base_url"], timeout_seconds=timeout, max_retries=retries
        )
    return OpenAIProvider(
        api_key=kwargs["api_key"], base_url=kwargs["base_url"], timeout_seconds=timeout, max_retries=retries
    )


def _label(
    server: FakeLLMServer,
    texts: list[str],
    *,
    cache: LlmCache | None = None,
    batch_items: int = 3,
    timeout: float = 5.0,
    retries: int = 2,
    patience: float | None = None,
    max_in_flight: int = 16,
) -> tuple[dict[str, Tier1Label | LlmFailure], LlmEngine]:
    items = {content_hash(text): text for text in texts}

    async def run() -> tuple[dict[str, Tier1Label | LlmFailure], LlmEngine]:
        provider = _provider(server, timeout=timeout, retries=retries)
        config = EngineConfig(
            models=MODELS,
            batch_items={TIER1: batch_items},
            max_in_flight=max_in_flight,
            outage_patience_seconds=patience,
        )
        engine = LlmEngine(provider, config, cache)
        try:
            return await engine.label(items), engine
        finally:
            await provider.aclose()

    return asyncio.run(run())


def _assert_every_item_has_an_outcome(results: dict[str, Any], texts: list[str]) -> None:
    assert set(results) == {content_hash(t) for t in texts}
    assert all(isinstance(outcome, Tier1Label | LlmFailure) for outcome in results.values())


def test_batches_answer_every_item_with_usage(server: FakeLLMServer) -> None:
    results, engine = _label(server, TEXTS, batch_items=3)
    _assert_every_item_has_an_outcome(results, TEXTS)
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values())
    assert server.calls() == 2  # six short items, three per call
    stats = engine.task_stats(TIER1)
    assert stats.calls == 2 and stats.items_answered == 6
    assert stats.usage.input_tokens > 0 and stats.usage.output_tokens > 0
    sso = results[content_hash(TEXTS[0])]
    assert isinstance(sso, Tier1Label) and sso.category == "feature_request" and sso.relevance >= 6
    chitchat = results[content_hash(TEXTS[2])]
    assert isinstance(chitchat, Tier1Label) and not chitchat.is_feedback


def test_rate_limit_retry_after_is_honoured(server: FakeLLMServer) -> None:
    server.fail_next(2, Fault.rate_limit(retry_after=1))
    started = time.monotonic()
    results, _ = _label(server, TEXTS[:3], batch_items=3)
    elapsed = time.monotonic() - started
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values())
    assert server.stats().status_counts[429] == 2
    assert elapsed >= 1.8, "two 429s with retry-after: 1 must wait about two seconds"


def test_server_errors_are_retried(server: FakeLLMServer) -> None:
    server.fail_next(1, Fault.server_error(503))
    results, _ = _label(server, TEXTS[:3])
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values())
    assert server.calls() == 2


def test_persistent_server_errors_end_as_explicit_failures(server: FakeLLMServer) -> None:
    server.add_fault(Fault.server_error(500))
    results, engine = _label(server, TEXTS[:3], retries=1)
    _assert_every_item_has_an_outcome(results, TEXTS[:3])
    failures = [outcome for outcome in results.values() if isinstance(outcome, LlmFailure)]
    assert len(failures) == 3
    assert all(f.status == "unavailable" and "500" in f.error for f in failures)
    assert engine.task_stats(TIER1).items_failed == 3


def test_timeouts_end_as_explicit_failures(server: FakeLLMServer) -> None:
    server.add_fault(Fault.timeout(3.0))
    results, _ = _label(server, TEXTS[:2], timeout=0.5, retries=0)
    _assert_every_item_has_an_outcome(results, TEXTS[:2])
    assert {outcome.status for outcome in results.values() if isinstance(outcome, LlmFailure)} == {"unavailable"}


def test_an_outage_within_the_patience_is_waited_out(server: FakeLLMServer) -> None:
    # Both kinds of outage answer: a 429 naming its wait, a 503 naming none.
    outage = server.start_outage(2.5, [Fault.rate_limit(retry_after=1), Fault.server_error(503)])
    started = time.monotonic()
    results, engine = _label(server, TEXTS[:4], batch_items=2, retries=1, patience=30)
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values()), results
    assert set(results) == {content_hash(t) for t in TEXTS[:4]}
    assert outage.hits >= 4 and time.monotonic() - started >= 2.5
    assert engine.unavailable_reason is None and engine.stop_reason() is None


def test_an_outage_past_the_patience_stops_asking_and_leaves_items_pending(server: FakeLLMServer) -> None:
    server.start_outage(60, [Fault.server_error(503)])
    started = time.monotonic()
    results, engine = _label(server, TEXTS, batch_items=1, retries=0, patience=1.0, max_in_flight=2)
    assert time.monotonic() - started < 10
    # Not failed (an outage is not the items' fault, failures count towards giving up on them):
    # not attempted, so the next run asks for every one of them.
    assert results == {}
    assert engine.task_stats(TIER1).items_not_attempted == len(TEXTS)
    assert engine.task_stats(TIER1).items_failed == 0
    assert engine.unavailable_reason is not None and "503" in engine.unavailable_reason
    reason = engine.stop_reason()
    assert reason is not None and reason.startswith("the provider stayed unavailable")
    # Once the patience ran out no new call went out: only the two calls in flight ever asked.
    asked = {text for record in server.requests if record.llm_request for _, text in tier1_items(record.llm_request)}
    assert 1 <= len(asked) <= 2


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),  # the precise one wins
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: now
        ({"retry-after": "3600"}, 60.0),  # capped, not ignored
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_in_every_form_providers_send(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_a_rejected_request_is_not_waited_on(server: FakeLLMServer) -> None:
    server.add_fault(Fault.bad_request("prompt is too long"))
    started = time.monotonic()
    results, engine = _label(server, TEXTS[:2], batch_items=2, retries=0, patience=30)
    assert time.monotonic() - started < 5, "a 400 is the request's fault: no outage wait"
    assert all(isinstance(outcome, LlmFailure) and "400" in outcome.error for outcome in results.values())
    assert engine.unavailable_reason is None


@pytest.mark.parametrize("fault", ["malformed_json", "truncated_json", "schema_invalid", "truncated_answer"])
def test_a_malformed_answer_gets_a_second_chance(server: FakeLLMServer, fault: str) -> None:
    server.fail_next(1, getattr(Fault, fault)())
    results, engine = _label(server, TEXTS[:3], retries=0)
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values()), results
    assert engine.task_stats(TIER1).retries == 1


@pytest.mark.parametrize("fault", ["malformed_json", "schema_invalid", "truncated_answer"])
def test_a_malformed_answer_twice_is_recorded_as_invalid_output(server: FakeLLMServer, fault: str) -> None:
    server.add_fault(getattr(Fault, fault)())
    results, _ = _label(server, TEXTS[:3], retries=0)
    _assert_every_item_has_an_outcome(results, TEXTS[:3])
    statuses = {outcome.status for outcome in results.values() if isinstance(outcome, LlmFailure)}
    assert statuses == {"invalid_output"}


def test_refusals_are_recorded_as_refused(server: FakeLLMServer) -> None:
    server.add_fault(Fault.refusal(), user_text_contains="SSO with Okta")
    results, _ = _label(server, TEXTS, batch_items=1)
    _assert_every_item_has_an_outcome(results, TEXTS)
    refused = results[content_hash(TEXTS[0])]
    assert isinstance(refused, LlmFailure) and refused.status == "refused"
    assert sum(isinstance(o, Tier1Label) for o in results.values()) == len(TEXTS) - 1


def test_an_item_left_out_of_a_batch_is_asked_again(server: FakeLLMServer) -> None:
    def forgetful(request: Any) -> Any:
        answer = headway_responder(request)
        if len(tier1_items(request)) > 1:
            answer["labels"] = answer["labels"][:-1]
        return answer

    server.set_responder(forgetful)
    results, engine = _label(server, TEXTS[:3], batch_items=3)
    assert all(isinstance(outcome, Tier1Label) for outcome in results.values())
    assert server.calls() == 2 and engine.task_stats(TIER1).retries == 1


def test_cached_answers_cost_nothing_the_second_time(server: FakeLLMServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate(url)
    cache = LlmCache(url)
    first, _ = _label(server, TEXTS, cache=cache)
    calls = server.calls()
    second, engine = _label(server, TEXTS, cache=cache)
    assert server.calls() == calls, "a re-run over unchanged texts must make zero calls"
    assert engine.task_stats(TIER1).cache_hits == len(TEXTS)
    assert first == second


def test_concurrency_is_bounded(server: FakeLLMServer) -> None:
    server.latency_s = 0.2
    texts = [f"Please add export option number {i} to the reports page." for i in range(24)]
    items = {content_hash(text): text for text in texts}

    async def run() -> None:
        provider = _provider(server)
        engine = LlmEngine(provider, EngineConfig(models=MODELS, batch_items={TIER1: 1}, max_in_flight=4))
        try:
            await engine.label(items)
        finally:
            await provider.aclose()

    asyncio.run(run())
    assert server.stats().max_in_flight == 4
