"""Batched catalogue matching: many mentions per call, each judged against its own candidates.

Through the real SDKs against the fake Anthropic and OpenAI servers (answering with Headway's
offline matcher), and through the offline provider: batching must give every mention the
answer it would get alone, in fewer calls, concurrently, cached per mention and candidate set.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headway_assets.core.warehouse.database import migrate
from headway_assets.llm.cache import LlmCache
from headway_assets.llm.engine import EngineConfig, LlmEngine, LlmFailure
from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
from headway_assets.llm.providers.base import LlmProvider
from headway_assets.llm.providers.openai_provider import OpenAIProvider
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import AI_MATCH, INSIGHT, MATCH, MATCH_SYSTEM, TIER1, TIER2, MatchCandidate, MatchInput
from headway_assets.offline import OfflineProvider, answer
from headway_assets.testing.fakes.headway_responder import headway_responder, match_items
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer, FakeLLMServer

MODELS = {TIER1: "model-t1", TIER2: "model-t2", INSIGHT: "model-in", MATCH: "model-m"}

SSO = MatchCandidate(
    "req-sso",
    "Support SSO with Okta",
    "Log in through Okta single sign-on.",
    "security",
    "security/sso",
    ("Okta login",),
)
PDF = MatchCandidate("req-pdf", "Export dashboards to PDF", "Download a dashboard as a PDF file.", "reporting", None)
DARK = MatchCandidate("req-dark", "Dark mode", "A dark theme for the web app.", "experience", "experience/look")
CSV = MatchCandidate("req-csv", "Raise the CSV export row limit", "CSV exports stop at 10k rows.", "reporting")
POOL = (SSO, PDF, DARK, CSV)
ASKS = [
    ("Okta single sign-on", "We need to sign in with Okta SSO.", "security"),
    ("PDF export of dashboards", "Let us download dashboards as PDF.", "reporting"),
    ("Night theme", "Our staff want a dark theme in the evening.", "experience"),
    ("CSV export limit too low", "The CSV export is cut at 10k rows.", "reporting"),
    ("Azure AD SSO", "Sign-in through Azure AD please.", "security"),
    ("Schedule reports by email", "Send the weekly report by email.", "reporting"),
]


def _inputs(count: int) -> dict[str, MatchInput]:
    """`count` distinct mentions, each with its own rotating set of two or three candidates."""
    items: dict[str, MatchInput] = {}
    for index in range(count):
        title, description, theme = ASKS[index % len(ASKS)]
        candidates = tuple(POOL[(index + shift) % len(POOL)] for shift in range(2 + index % 2))
        item = MatchInput(
            title=title,
            description=f"{description} (customer {index})",
            sub_theme=None,
            candidates=candidates,
            theme=theme,
            quote=description,
            kind="feature_request",
        )
        items[hashlib.sha256(repr(item).encode()).hexdigest()] = item
    return items


def _provider(server: FakeLLMServer) -> LlmProvider:
    kwargs: dict[str, Any] = server.client_kwargs()
    provider_class = AnthropicProvider if isinstance(server, FakeAnthropicServer) else OpenAIProvider
    return provider_class(api_key=kwargs["api_key"], base_url=kwargs["base_url"], timeout_seconds=5.0, max_retries=0)


def _match(
    provider: LlmProvider, items: Mapping[str, MatchInput], *, cache: LlmCache | None = None, batch_items: int = 20
) -> tuple[dict[str, CatalogMatch | LlmFailure], LlmEngine]:
    async def run() -> tuple[dict[str, CatalogMatch | LlmFailure], LlmEngine]:
        engine = LlmEngine(provider, EngineConfig(models=MODELS, batch_items={MATCH: batch_items}), cache)
        try:
            return await engine.match(items), engine
        finally:
            await provider.aclose()

    return asyncio.run(run())


def _user_text(recorded: Any) -> str:
    assert recorded.llm_request is not None
    return str(recorded.llm_request.user_text)


def test_many_mentions_per_call_each_answered_as_alone(server: FakeLLMServer) -> None:
    server.latency_s = 0.3
    items = _inputs(45)
    results, engine = _match(_provider(server), items)
    assert server.calls() == 3, "45 mentions at 20 a call"
    assert server.stats().max_in_flight == 3, "the calls run concurrently"
    assert results == {key: answer(MATCH, item) for key, item in items.items()}
    assert sum(1 for r in results.values() if isinstance(r, CatalogMatch) and r.candidate_id) >= 15
    stats = engine.task_stats(MATCH)
    assert (stats.calls, stats.items_answered, stats.retries) == (3, 45, 0)
    assert stats.usage.input_tokens > 0 and stats.usage.output_tokens > 0
    assert sorted(len(re.findall(r'<ask id="', _user_text(r))) for r in server.requests) == [5, 20, 20]


def test_shared_candidates_are_written_once(server: FakeLLMServer) -> None:
    items = _inputs(12)
    _match(_provider(server), items)
    (request,) = server.requests
    text = _user_text(request)
    assert text.count("Support SSO with Okta") == 1, "a candidate offered to several asks is listed once"
    assert text.count('<ask id="') == 12


def test_a_candidate_id_that_means_different_things_is_written_in_full(server: FakeLLMServer) -> None:
    renamed = MatchCandidate("req-pdf", "Dark mode", "A dark theme for the web app.")
    items = {
        "a": MatchInput("PDF export of dashboards", "Download dashboards as PDF.", None, (PDF, SSO)),
        "b": MatchInput("Night theme", "Our staff want a dark theme.", None, (renamed,)),
    }
    results, _ = _match(_provider(server), items)
    assert results == {key: answer(MATCH, item) for key, item in items.items()}
    matched = results["b"]
    assert isinstance(matched, CatalogMatch) and matched.candidate_id == "req-pdf" and matched.score >= AI_MATCH
    ask_b = _user_text(server.requests[0]).split('<ask id="1">')[1]
    assert '"title": "Dark mode"' in ask_b, "the ask carries its own version of the candidate"


def test_an_answer_naming_another_asks_candidate_is_asked_again(server: FakeLLMServer) -> None:
    items = {
        "sso": MatchInput("Okta single sign-on", "We need Okta SSO.", None, (SSO,)),
        "pdf": MatchInput("PDF export of dashboards", "Dashboards as PDF.", None, (PDF,)),
    }
    first = True

    def confused(request: Any) -> Any:
        nonlocal first
        answer = headway_responder(request)
        if first:  # the first answer gives every ask the other one's candidate
            first = False
            ids = [item["candidate_id"] for item in answer["items"]]
            for item, other in zip(answer["items"], reversed(ids), strict=True):
                item["candidate_id"] = other
        return answer

    server.set_responder(confused)
    results, engine = _match(_provider(server), items)
    assert results == {key: answer(MATCH, item) for key, item in items.items()}
    assert server.calls() == 2 and engine.task_stats(MATCH).retries == 1


def test_an_ask_left_out_twice_fails_and_the_others_are_kept(server: FakeLLMServer) -> None:
    items = _inputs(4)
    dropped = next(iter(items))

    def forgetful(request: Any) -> Any:
        answer = headway_responder(request)
        asks = match_items(request)
        target = [item_id for item_id, item in asks if item == items[dropped]]
        answer["items"] = [item for item in answer["items"] if item["id"] not in target]
        return answer

    server.set_responder(forgetful)
    results, engine = _match(_provider(server), items)
    failure = results[dropped]
    assert isinstance(failure, LlmFailure) and failure.status == "invalid_output"
    assert all(results[key] == answer(MATCH, item) for key, item in items.items() if key != dropped)
    assert server.calls() == 2 and engine.task_stats(MATCH).items_failed == 1


def test_cached_matches_cost_nothing_the_second_time(server: FakeLLMServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate(url)
    items = _inputs(30)
    first, _ = _match(_provider(server), items, cache=LlmCache(url))
    calls = server.calls()
    second, engine = _match(_provider(server), items, cache=LlmCache(url))
    assert server.calls() == calls == 2
    assert engine.task_stats(MATCH).cache_hits == 30 and first == second
    # One more mention costs one call, for that mention alone.
    more = _inputs(31)
    _match(_provider(server), more, cache=LlmCache(url))
    assert server.calls() == calls + 1 and _user_text(server.requests[-1]).count('<ask id="') == 1


def test_the_offline_provider_answers_a_batch_as_one_at_a_time() -> None:
    items = _inputs(50)
    batched, engine = _match(OfflineProvider(), items)
    assert engine.task_stats(MATCH).calls == 3
    one_by_one, _ = _match(OfflineProvider(), items, batch_items=1)
    assert batched == one_by_one == {key: answer(MATCH, item) for key, item in items.items()}


def test_the_prompt_asks_for_the_same_capability_across_wording_languages_and_sub_themes() -> None:
    prompt = MATCH_SYSTEM.lower()
    assert "complaint" in prompt and "language" in prompt and "sub-theme" in prompt


def test_the_character_budget_counts_a_shared_candidate_once() -> None:
    long_pool = tuple(MatchCandidate(f"req-{i}", f"Request {i}", "word " * 400) for i in range(10))  # ~2,000 chars each
    sharing = {f"s{i}": MatchInput(f"Ask {i}", "Please.", None, long_pool) for i in range(20)}
    apart = {
        f"a{i}": MatchInput(f"Ask {i}", "Please.", None, (MatchCandidate(f"own-{i}", "x", "y" * 10_000),))
        for i in range(4)
    }

    def calls(items: Mapping[str, MatchInput]) -> int:
        async def run() -> int:
            config = EngineConfig(models=MODELS, batch_items={MATCH: 20}, batch_chars=25_000)
            engine = LlmEngine(OfflineProvider(), config)
            await engine.match(items)
            return engine.task_stats(MATCH).calls

        return asyncio.run(run())

    assert calls(sharing) == 1, "twenty asks over the same 20,000 characters of candidates fit one call"
    assert calls(apart) == 2, "asks with 10,000 characters of candidates each: two a call"
