"""The offline provider answers each item on its own: more items per call changes no answer.

The defaults put more items in a call than before (tier-1 100, tier-2 24, insights 40, matching
20); with the offline provider that must only change how many calls are made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from headway_assets.core.taxonomy import TAXONOMY_DIR, load_taxonomy_file
from headway_assets.llm.engine import DEFAULT_BATCH_ITEMS, EngineConfig, LlmEngine
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2, InsightInput, MatchCandidate, MatchInput, Tier2Input
from headway_assets.offline import OfflineProvider

ACME = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml").listing()
MODELS = dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH), "offline")
ASKS = [
    "Could you add SSO with Okta? Our IT team will not approve the renewal without it.",
    "The CSV export fails with a 500 error whenever the report has more than 10k rows.",
    "Honestly the dashboard is painfully slow with 40 widgets, my analysts hate it.",
    "We would love to schedule the weekly report to go out by email every Monday.",
    "Can we get a dark mode? Staring at the white screen at night is rough.",
    "Thanks, see you at the standup tomorrow!",
    "Please let us export dashboards to PDF for the board pack.",
]
TEXTS = [f"{ASKS[i % len(ASKS)]} (ticket {i})" for i in range(130)]


def _run(task: str, items: Mapping[str, Any], batch_items: int) -> tuple[Mapping[str, Any], int]:
    async def run() -> tuple[Mapping[str, Any], int]:
        engine = LlmEngine(OfflineProvider(), EngineConfig(models=MODELS, batch_items={task: batch_items}))
        methods: dict[str, Callable[[Any], Awaitable[Mapping[str, Any]]]] = {
            TIER1: engine.label,
            TIER2: engine.extract,
            INSIGHT: engine.summarise,
            MATCH: engine.match,
        }
        method = methods[task]
        results = await method(items)
        return results, engine.task_stats(task).calls

    return asyncio.run(run())


def _same_answers_in_fewer_calls(task: str, items: Mapping[str, Any]) -> None:
    batched, calls = _run(task, items, DEFAULT_BATCH_ITEMS[task])
    alone, one_per_call = _run(task, items, 1)
    assert batched == alone and len(batched) == len(items)
    assert one_per_call == len(items) and calls == -(-len(items) // DEFAULT_BATCH_ITEMS[task])


def test_tier1_labels_do_not_depend_on_the_batch() -> None:
    _same_answers_in_fewer_calls(TIER1, {f"t{i}": text for i, text in enumerate(TEXTS)})


def test_tier2_mentions_do_not_depend_on_the_batch() -> None:
    items = {f"t{i}": Tier2Input(text, "gmail", f"Customer {i % 5}", None, ACME) for i, text in enumerate(TEXTS[:60])}
    _same_answers_in_fewer_calls(TIER2, items)
    batched, _ = _run(TIER2, items, DEFAULT_BATCH_ITEMS[TIER2])
    assert sum(len(answer.mentions) for answer in batched.values()) >= 40


def test_insights_do_not_depend_on_the_batch() -> None:
    items = {f"t{i}": InsightInput(text, "slack", f"Customer {i % 5}", ()) for i, text in enumerate(TEXTS[:90])}
    _same_answers_in_fewer_calls(INSIGHT, items)


def test_matches_do_not_depend_on_the_batch() -> None:
    pool = (
        MatchCandidate("sso", "Support SSO with Okta", "Log in through Okta."),
        MatchCandidate("pdf", "Export dashboards to PDF", "A PDF of a dashboard."),
        MatchCandidate("dark", "Dark mode", "A dark theme."),
    )
    items = {
        f"t{i}": MatchInput(text[:60], text, None, pool[i % 3 :] + pool[: i % 3]) for i, text in enumerate(TEXTS[:45])
    }
    _same_answers_in_fewer_calls(MATCH, items)
