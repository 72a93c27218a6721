"""The batch path through the vendors' batch APIs: the real anthropic and openai SDKs against the
fake servers, the real warehouse (SQLite and PostgreSQL), the engine's own packing and validation.

Covers success (answers land in the LLM cache under the live path's keys, the next run makes no
live call and gets the live path's answers), partial failure (only the errored requests are
resubmitted, once), expiry and cancel (recorded, items back to the live path), idempotency (the
same pending items are never submitted twice) and the batch discount.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.llm_spend import month_to_date_spend, over_budget
from headway_assets.core.warehouse.schema import LlmBatch, LlmBatchRequest, LlmCacheEntry, LlmUsage, Organization
from headway_assets.llm.batches import (
    BatchCollector,
    BatchOrigin,
    LandedBatch,
    cancel_batch,
    land_open_batches,
    wants_batch,
)
from headway_assets.llm.cache import LlmCache
from headway_assets.llm.engine import EngineConfig, LlmEngine, LlmFailure
from headway_assets.llm.pricing import estimate_cost
from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
from headway_assets.llm.providers.base import LlmProvider, LlmRequest, TokenUsage
from headway_assets.llm.providers.openai_provider import OpenAIProvider
from headway_assets.llm.schemas import MatchBatch, Tier1Label
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import (
    FakeAnthropicServer,
    FakeLLMServer,
    FakeOpenAIServer,
    Fault,
)

TEXTS = {
    f"hash-{index:02d}": text
    for index, text in enumerate(
        [
            "Please add SSO with Okta, our IT team requires it before rollout.",
            "The CSV export stops at 10k rows, we need the whole table.",
            "Lunch is at noon in the big room today.",
            "Dark mode would make the dashboard easier on the eyes at night.",
            "The app crashes when I upload a PDF larger than 20 MB.",
            "Thanks for the quick fix yesterday, works great now!",
            "Can someone reset the projector in room 4?",
            "We would pay more for an audit log of admin actions.",
        ]
    )
}
FAILING_TEXT = "The app crashes when I upload a PDF"
# One event loop for the whole module: the providers' async SDK clients stay bound to the loop
# they first ran on (the sensor and the assets each use one loop per evaluation, with fresh clients).
LOOP = asyncio.new_event_loop()


def run(work: Any) -> Any:
    """Run a coroutine on the module's loop."""
    return LOOP.run_until_complete(work)


@pytest.fixture(params=["anthropic", "openai"])
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[FakeLLMServer, LlmProvider, dict[str, str]]]:
    """A fake vendor server and a real provider (its SDK client) pointed at it."""
    if request.param == "anthropic":
        with FakeAnthropicServer(responder=headway_responder) as server:
            provider: LlmProvider = AnthropicProvider(api_key=server.api_key, base_url=server.base_url, max_retries=0)
            yield server, provider, dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH), "claude-haiku-4-5")
    else:
        with FakeOpenAIServer(responder=headway_responder) as server:
            provider = OpenAIProvider(api_key=server.api_key, base_url=server.base_url, max_retries=0)
            yield server, provider, dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH), "gpt-4.1-mini")


def _live_endpoint(server: FakeLLMServer) -> str:
    return "/v1/messages" if isinstance(server, FakeAnthropicServer) else "/v1/chat/completions"


def _engine(provider: LlmProvider, models: dict[str, str], url: str | None) -> LlmEngine:
    # Two texts a call: the eight texts make four packed calls, four batch requests.
    config = EngineConfig(models=models, batch_items={TIER1: 2})
    return LlmEngine(provider, config, LlmCache(url) if url else None)


async def _label_in_batch_mode(
    provider: LlmProvider, models: dict[str, str], url: str
) -> tuple[dict[str, Tier1Label | LlmFailure], BatchCollector]:
    """One batch-mode run: the engine labels TEXTS with a collector installed, then submits."""
    engine = _engine(provider, models, url)
    collector = BatchCollector(url, provider, models, BatchOrigin("message_labels", "2026-10-01", "2026-10-03")).load()
    engine.deferral = collector
    answers = await engine.label(TEXTS)
    await collector.submit()
    return answers, collector


def _land(url: str, provider: LlmProvider) -> list[LandedBatch]:
    return run(land_open_batches(url, lambda _name: provider))


def _requests(url: str) -> list[Any]:
    with read_connection(url) as conn:
        return list(conn.execute(select(LlmBatchRequest.__table__).order_by(LlmBatchRequest.id)))


def _batches(url: str) -> list[Any]:
    with read_connection(url) as conn:
        return list(conn.execute(select(LlmBatch.__table__).order_by(LlmBatch.id)))


def test_batch_mode_covers_backfills_or_everything() -> None:
    assert not wants_batch("off", 30)
    assert not wants_batch("backfill", 1)
    assert wants_batch("backfill", 2)
    assert wants_batch("always", 1)
    with pytest.raises(ValueError, match="batch mode"):
        wants_batch("sometimes", 3)


def test_a_batch_lands_in_the_cache_and_the_next_run_makes_no_live_call(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]]
) -> None:
    server, provider, models = vendor
    live = _live_endpoint(server)
    # What the live path answers (no cache, so nothing is stored).
    expected = run(_engine(provider, models, None).label(TEXTS))
    assert all(isinstance(answer, Tier1Label) for answer in expected.values())
    server.reset_records()

    answers, collector = run(_label_in_batch_mode(provider, models, database_url))
    assert answers == {}, "every item stays pending while its batch is open"
    assert server.calls(live) == 0
    assert len(collector.submitted) == 1 and len(server.batch_ids()) == 1
    assert len(server.batch_requests(server.batch_ids()[0])) == 4, "the engine's packing: two texts a request"

    assert _land(database_url, provider) == [], "the first poll finds the batch still processing"
    (landed,) = _land(database_url, provider)
    assert (landed.status, landed.succeeded, landed.errored, landed.items_cached) == ("ended", 4, 0, len(TEXTS))
    assert landed.origin == BatchOrigin("message_labels", "2026-10-01", "2026-10-03")
    with read_connection(database_url) as conn:
        assert len(conn.execute(select(LlmCacheEntry)).all()) == len(TEXTS)
        usage = conn.execute(select(LlmUsage.__table__)).one()
    assert (usage.asset, usage.partition, usage.task, usage.calls) == (
        "message_labels",
        "2026-10-01...2026-10-03",
        TIER1,
        4,
    )
    # Half the list price of the tokens the fake server counted for the batch's requests.
    stats = server.stats()
    tokens = TokenUsage(
        input_tokens=stats.input_tokens - stats.cache_read_input_tokens - stats.cache_creation_input_tokens,
        output_tokens=stats.output_tokens,
        cache_read_tokens=stats.cache_read_input_tokens,
        cache_write_tokens=stats.cache_creation_input_tokens,
    )
    if isinstance(server, FakeOpenAIServer):  # OpenAI counts cached tokens inside prompt tokens, and writes none
        tokens = TokenUsage(
            stats.input_tokens - stats.cache_read_input_tokens, stats.output_tokens, stats.cache_read_input_tokens
        )
    assert usage.cost_usd == pytest.approx(estimate_cost(models[TIER1], tokens) / 2)
    assert usage.cost_usd > 0

    # The next run: every answer from the cache, no live call, no new batch, the live path's labels.
    server.reset_records()
    again, collector = run(_label_in_batch_mode(provider, models, database_url))
    assert server.calls(live) == 0 and collector.submitted == [] and len(server.batch_ids()) == 1
    assert again == expected


def test_a_second_submit_of_the_same_pending_items_makes_no_second_batch(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]]
) -> None:
    server, provider, models = vendor
    run(_label_in_batch_mode(provider, models, database_url))
    _answers, second = run(_label_in_batch_mode(provider, models, database_url))
    assert second.submitted == [] and second.already_open == 4
    assert len(server.batch_ids()) == 1 and len(_batches(database_url)) == 1
    assert server.calls(_live_endpoint(server)) == 0


@pytest.mark.parametrize("fails_again", [False, True], ids=["retry-succeeds", "retry-fails"])
def test_only_the_failed_requests_are_resubmitted_once(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]], fails_again: bool
) -> None:
    server, provider, models = vendor
    server.batch_polls = 0
    # The request holding FAILING_TEXT errors: once (the resubmission succeeds), or every time.
    server.add_fault(Fault.server_error(500), user_text_contains=FAILING_TEXT, times=None if fails_again else 1)
    run(_label_in_batch_mode(provider, models, database_url))
    (first,) = _land(database_url, provider)
    assert (first.succeeded, first.errored, first.items_cached) == (3, 1, 6)
    assert len(first.resubmitted_as) == 1
    resubmitted = server.batch_requests(server.batch_ids()[1])
    assert len(resubmitted) == 1, "only the failed request goes again"
    assert FAILING_TEXT in str(resubmitted[0][1])

    (second,) = _land(database_url, provider)
    assert second.resubmitted_as == [], "a request is resubmitted once at most"
    batches = _batches(database_url)
    assert [(b.attempt, b.retry_of) for b in batches] == [(1, None), (2, batches[0].id)]
    live = _live_endpoint(server)
    server.reset_records()
    answers, collector = run(_label_in_batch_mode(provider, models, database_url))
    if fails_again:
        assert (second.errored, second.items_cached) == (1, 0)
        assert [r.status for r in _requests(database_url)] == ["succeeded"] * 2 + ["errored", "succeeded", "errored"]
        # Back on the live path: the next run asks for those two texts live (the fault answers 500 there too).
        assert collector.sent_live == 1 and collector.submitted == []
        assert server.calls(live) == 1
        assert sum(isinstance(a, LlmFailure) for a in answers.values()) == 2
    else:
        assert (second.succeeded, second.items_cached) == (1, 2)
        assert server.calls(live) == 0 and collector.submitted == []
        assert all(isinstance(answer, Tier1Label) for answer in answers.values())


def test_an_expired_batch_is_recorded_and_its_items_go_back_to_the_live_path(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]]
) -> None:
    server, provider, models = vendor
    server.expire_next_batches(1)
    server.batch_polls = 0
    run(_label_in_batch_mode(provider, models, database_url))
    (landed,) = _land(database_url, provider)
    assert (landed.status, landed.expired, landed.succeeded, landed.items_cached) == ("expired", 4, 0, 0)
    assert {r.status for r in _requests(database_url)} == {"expired"}
    assert server.calls("batch:" + _live_endpoint(server)) == 0, "an expired batch processed nothing"

    answers, collector = run(_label_in_batch_mode(provider, models, database_url))
    assert collector.sent_live == 4 and collector.submitted == []
    assert server.calls(_live_endpoint(server)) == 4
    assert all(isinstance(answer, Tier1Label) for answer in answers.values())
    assert len(server.batch_ids()) == 1


def test_a_cancelled_batch_is_recorded_and_its_items_go_back_to_the_live_path(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]]
) -> None:
    server, provider, models = vendor
    _answers, collector = run(_label_in_batch_mode(provider, models, database_url))
    cancelled = run(cancel_batch(database_url, provider, collector.submitted[0]))
    assert cancelled is not None and cancelled.vendor_status in ("canceling", "cancelling")
    (landed,) = _land(database_url, provider)
    assert (landed.status, landed.cancelled, landed.items_cached) == ("cancelled", 4, 0)
    (batch,) = _batches(database_url)
    assert (batch.status, batch.cancelled, batch.vendor_status) == ("cancelled", 4, batch.vendor_status)
    assert batch.ended_at is not None

    answers, collector = run(_label_in_batch_mode(provider, models, database_url))
    assert collector.sent_live == 4 and server.calls(_live_endpoint(server)) == 4
    assert all(isinstance(answer, Tier1Label) for answer in answers.values())


def test_matching_stays_on_the_live_path(database_url: str) -> None:
    # The catalogue's linker founds a request for a mention without an answer: never defer matching.
    models = dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH), "claude-haiku-4-5")
    collector = BatchCollector(database_url, AnthropicProvider(api_key="k"), models, BatchOrigin("feature_catalog"))
    request = LlmRequest(task=MATCH, prompt_version="m", system="s", user="u", output_model=MatchBatch)
    assert collector.load()(MATCH, request, {"0": "hash"}) is False
    assert collector.taken == [] and collector.sent_live == 0


def test_a_landed_batch_records_its_spend_per_organisation_and_budgets_count_it(
    database_url: str, vendor: tuple[FakeLLMServer, LlmProvider, dict[str, str]]
) -> None:
    """The run's organisation shares go with its batch: landing writes one usage row per
    organisation (the live path's record_usage split), so the monthly budget sees batch spend."""
    _server, provider, models = vendor
    with write_transaction(database_url) as conn:
        acme, globex = (
            conn.execute(insert(Organization).values(slug=slug, name=slug).returning(Organization.id)).scalar_one()
            for slug in ("acme", "globex")
        )
    origin = BatchOrigin("message_labels", "2026-10-01", "2026-10-03", ((acme, 0.75), (globex, 0.25)))
    engine = _engine(provider, models, database_url)
    collector = BatchCollector(database_url, provider, models, origin).load()
    engine.deferral = collector
    run(engine.label(TEXTS))
    run(collector.submit())
    (batch,) = _batches(database_url)
    assert batch.org_shares == {str(acme): 0.75, str(globex): 0.25}

    _land(database_url, provider)
    (landed,) = _land(database_url, provider)
    assert landed.origin == origin
    with read_connection(database_url) as conn:
        rows = {row.org_id: row for row in conn.execute(select(LlmUsage.__table__))}
        (batch,) = conn.execute(select(LlmBatch.__table__)).all()
        spent = month_to_date_spend(conn, [acme, globex])
        over = over_budget(conn, [acme, globex], default_usd=batch.cost_usd * 0.5)
    assert set(rows) == {acme, globex}, "no usage row without an organisation"
    assert batch.cost_usd > 0
    assert rows[acme].cost_usd == pytest.approx(batch.cost_usd * 0.75)
    assert rows[globex].cost_usd == pytest.approx(batch.cost_usd * 0.25)
    assert rows[acme].calls + rows[globex].calls == 4
    assert spent == {acme: pytest.approx(batch.cost_usd * 0.75), globex: pytest.approx(batch.cost_usd * 0.25)}
    # A budget of half the batch: the organisation with three quarters of it has spent its budget.
    assert set(over) == {acme}
