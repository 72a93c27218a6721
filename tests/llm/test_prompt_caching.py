"""Prompt caching (issue 15, item 6): the system prompt and an organisation's taxonomy go to the
provider as a stable, cacheable prefix, and the cached tokens are read back into usage and cost.
Real SDKs against the fake servers, which cache prefixes the way the vendors do."""

from __future__ import annotations

import asyncio

import pytest

from headway_assets.core.message import content_hash
from headway_assets.llm.engine import EngineConfig, LlmEngine
from headway_assets.llm.providers.base import ModelPrice
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2, Tier2Input
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer, FakeLLMServer
from tests.llm.test_llm_providers import _provider

MODELS = {TIER1: "model-t1", TIER2: "model-t2", INSIGHT: "model-in", MATCH: "model-m"}
TAXONOMY = tuple((f"area-{n}/topic-{m}", f"Topic {m} of area {n}") for n in range(8) for m in range(6))
TEXTS = [
    "Could you add SSO with Okta? Our IT team will not approve the renewal without it.",
    "The CSV export fails with a 500 error whenever the report has more than 10k rows.",
    "We need the weekly report as a PDF our executives can read without logging in.",
]
# Cache reads at a tenth of the input price, as Anthropic and OpenAI bill them.
PRICES = {"model-t2": ModelPrice(input=1.0, output=5.0, cache_read=0.1, cache_write=1.25)}


def _extract(server: FakeLLMServer) -> LlmEngine:
    items = {
        content_hash(text): Tier2Input(text=text, source="slack", customer=None, title=None, taxonomy=TAXONOMY)
        for text in TEXTS
    }

    async def run() -> LlmEngine:
        provider = _provider(server)
        # One message a call, one call at a time: the second and third calls find the first's prefix cached.
        config = EngineConfig(models=MODELS, batch_items={TIER2: 1}, max_in_flight=1)
        engine = LlmEngine(provider, config, None, prices=PRICES)
        try:
            answers = await engine.extract(items)
        finally:
            await provider.aclose()
        assert set(answers) == set(items)
        return engine

    return asyncio.run(run())


def test_the_taxonomy_is_sent_as_a_cached_prefix_and_cache_reads_are_priced(server: FakeLLMServer) -> None:
    engine = _extract(server)
    requests = server.requests
    assert len(requests) == len(TEXTS)
    taxonomy_line = f"- {TAXONOMY[0][0]}: {TAXONOMY[0][1]}"
    for request in requests:
        assert request.llm_request is not None
        assert taxonomy_line in request.llm_request.system_text, "the taxonomy is part of the stable prefix"
        assert taxonomy_line not in request.llm_request.user_text, "and not of the per-call message"
    if isinstance(server, FakeAnthropicServer):
        blocks = requests[0].body["system"]
        assert [block.get("cache_control") for block in blocks] == [{"type": "ephemeral"}] * 2

    usages = [request.usage for request in requests]
    assert all(usage is not None for usage in usages)
    later_reads = [usage.cache_read_input_tokens for usage in usages[1:] if usage is not None]
    assert all(tokens > 0 for tokens in later_reads), f"later calls read the cached prefix: {later_reads}"

    stats = engine.stats[TIER2]
    assert stats.usage.cache_read_tokens == sum(later_reads)
    price = PRICES["model-t2"]
    expected = (
        stats.usage.input_tokens * price.input
        + stats.usage.output_tokens * price.output
        + stats.usage.cache_read_tokens * price.cache_read
        + stats.usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
    assert stats.cost_usd == pytest.approx(expected)
    uncached = (stats.usage.input_tokens + stats.usage.cache_read_tokens) * price.input / 1_000_000
    assert stats.cost_usd < uncached + stats.usage.output_tokens * price.output / 1_000_000, "caching saved money"
