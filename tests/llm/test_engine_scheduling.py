"""How calls are scheduled: slices whose calls fit one wave of the call slots, and the next slice
asking while one is committed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from headway_assets.assets.ai_support import run_slices
from headway_assets.assets.message_labels import PendingMessage, label_slice, sent_chars, sent_chunks
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import migrate
from headway_assets.llm.cache import LlmCache
from headway_assets.llm.engine import EngineConfig, LlmEngine
from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
from headway_assets.llm.schemas import Tier1Label
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2
from headway_assets.offline import OfflineProvider
from headway_assets.testing.fakes.headway_responder import headway_responder, tier1_items
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer

MODELS = {TIER1: "offline", TIER2: "offline", INSIGHT: "offline", MATCH: "offline"}
SHORT = "Can we get a dark mode? Staring at the white screen at night is rough."
# About 4,000 characters: tier-1 sends it as several chunks.
LONG = " ".join(f"Sentence {i} of a long call transcript about exporting dashboards to PDF." for i in range(55))


def _messages(count: int) -> list[PendingMessage]:
    """Every third message long (several chunks), the others short."""
    texts = [f"{LONG if i % 3 == 0 else SHORT} (ticket {i})" for i in range(count)]
    return [PendingMessage(i, 1, text, content_hash(text), 0) for i, text in enumerate(texts)]


def _calls_per_slice(slices: list[list[PendingMessage]], engine: LlmEngine) -> list[int]:
    """Label each slice in turn; the calls each one made."""

    async def run() -> list[int]:
        calls = []
        for piece in slices:
            before = engine.task_stats(TIER1).calls
            rows = await label_slice(engine, piece)
            assert len(rows) == len(piece), "every message of the slice gets an outcome"
            calls.append(engine.task_stats(TIER1).calls - before)
        return calls

    return asyncio.run(run())


def test_tier1_slices_by_chunks_fit_one_wave_each() -> None:
    engine = LlmEngine(OfflineProvider(), EngineConfig(models=MODELS, max_in_flight=4, batch_items={TIER1: 50}))
    messages = _messages(600)
    assert sent_chunks(messages[0]) > 1 and sent_chunks(messages[1]) == 1

    by_message = list(engine.slices(TIER1, messages, size=sent_chars))
    by_chunk = list(engine.slices(TIER1, messages, size=sent_chars, weight=sent_chunks))

    # Counting messages, a slice of 200 messages holds more than 200 chunks: its calls overflow
    # the 4 slots into a second wave, and the slice is committed only after it.
    assert max(_calls_per_slice(by_message, engine)) > 4
    # Counting chunks, every slice's calls go out in one wave.
    assert max(_calls_per_slice(by_chunk, engine)) <= 4
    assert [m.id for piece in by_chunk for m in piece] == [m.id for m in messages], "every message, in order"


def test_small_waves_keep_slices_of_min_slice_items_messages() -> None:
    # Two slots of five items: a wave holds fewer than MIN_SLICE_ITEMS (100), so slices stay at
    # 100 messages whatever their chunks (what the fault tests count on).
    engine = LlmEngine(OfflineProvider(), EngineConfig(models=MODELS, max_in_flight=2, batch_items={TIER1: 5}))
    messages = _messages(250)
    slices = list(engine.slices(TIER1, messages, size=sent_chars, weight=sent_chunks))
    assert [len(piece) for piece in slices] == [100, 100, 50]


def _rounds(records: list[Any]) -> int:
    """Rounds of calls one after another at the server: a call is one round after the latest call
    that had finished before it arrived."""
    depth: list[tuple[float, int]] = []
    for record in sorted(records, key=lambda r: r.received_at):
        depth.append((record.finished_at, 1 + max((d for f, d in depth if f <= record.received_at), default=0)))
    return max(d for _f, d in depth)


def _label_slices_through_run_slices(ahead: int) -> tuple[int, list[int]]:
    """Three slices of 25 texts, 5 a call, 4 slots (5 calls a slice), through a fake Anthropic server
    answering after 0.2 s; returns the rounds of calls and the slices in the order committed."""
    texts = [f"{SHORT} (ticket {i})" for i in range(75)]
    slices = [dict(enumerate(texts[start : start + 25], start)) for start in (0, 25, 50)]
    committed: list[int] = []
    with FakeAnthropicServer(responder=headway_responder, latency_s=0.2) as server:

        async def run() -> None:
            provider = AnthropicProvider(api_key=DEFAULT_ANTHROPIC_KEY, base_url=server.base_url, max_retries=0)
            engine = LlmEngine(provider, EngineConfig(models=MODELS, max_in_flight=4, batch_items={TIER1: 5}))

            async def answer(piece: dict[int, str]) -> int:
                results = await engine.label({content_hash(text): text for text in piece.values()})
                assert len(results) == 25 and all(isinstance(r, Tier1Label) for r in results.values())
                return min(piece)

            try:
                await run_slices(engine, slices, answer, committed.append, on_stop=pytest.fail, ahead=ahead)
            finally:
                await provider.aclose()

        asyncio.run(run())
        assert server.calls() == 15
        return _rounds(server.requests), committed


def test_run_slices_lets_the_next_slice_ask_while_one_is_committed() -> None:
    # One slice at a time: each slice's 5 calls take two rounds of 4 slots, six rounds in all.
    rounds, committed = _label_slices_through_run_slices(ahead=0)
    assert rounds == 6 and committed == [0, 25, 50]
    # The next slice asking meanwhile: the 15 calls fill the slots as they free, ceil(15 / 4) rounds;
    # the slices are still committed one by one, in order.
    rounds, committed = _label_slices_through_run_slices(ahead=1)
    assert rounds == 4 and committed == [0, 25, 50]


def test_run_slices_starts_no_slice_once_the_engine_says_stop() -> None:
    engine = LlmEngine(OfflineProvider(), EngineConfig(models=MODELS), deadline=0.0)  # long past
    reasons: list[str] = []
    committed: list[int] = []

    async def answer(piece: int) -> int:
        return piece

    asyncio.run(run_slices(engine, [1, 2, 3], answer, committed.append, on_stop=reasons.append))
    assert committed == [] and reasons == ["the run deadline passed"]


def test_an_item_the_slice_before_is_still_asking_is_not_bought_twice(tmp_path: Path) -> None:
    # The same texts in two slices (messages quoting each other, repeated chunks): the second
    # slice starts asking while the first is out, before its answers reach the cache.
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate(url)
    texts = [f"{SHORT} (ticket {i})" for i in range(30)]
    slices = [texts[:20], texts[10:]]  # ten texts in both
    committed: list[dict[str, Any]] = []
    with FakeAnthropicServer(responder=headway_responder, latency_s=0.2) as server:

        async def run() -> LlmEngine:
            provider = AnthropicProvider(api_key=DEFAULT_ANTHROPIC_KEY, base_url=server.base_url, max_retries=0)
            engine = LlmEngine(
                provider, EngineConfig(models=MODELS, max_in_flight=4, batch_items={TIER1: 5}), LlmCache(url)
            )

            async def answer(piece: list[str]) -> dict[str, Any]:
                return await engine.label({content_hash(text): text for text in piece})

            try:
                await run_slices(engine, slices, answer, committed.append, on_stop=pytest.fail)
            finally:
                await provider.aclose()
            return engine

        engine = asyncio.run(run())
        asked = [
            text for record in server.requests if record.llm_request for _id, text in tier1_items(record.llm_request)
        ]
    assert sorted(asked) == sorted(texts), "each text asked once"
    assert [len(c) for c in committed] == [20, 20]
    assert all(isinstance(a, Tier1Label) for c in committed for a in c.values())
    assert committed[0][content_hash(texts[15])] == committed[1][content_hash(texts[15])]
    stats = engine.task_stats(TIER1)
    assert (stats.items_answered, stats.cache_hits, stats.calls) == (30, 10, 6)
