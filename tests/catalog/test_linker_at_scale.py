"""The linker at scale: bounded index, and every mention in exactly one request across many chunks."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from headway_assets.catalog import Linker, MentionRecord, build_catalog, linker, matcher_from_function
from headway_assets.llm.tasks import MatchInput

START = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ("export", "csv", "sso", "okta", "dashboard", "alerts", "slow", "bulk", "audit", "filters", "api")


def _mentions(count: int, seed: int = 3) -> list[MentionRecord]:
    rng = random.Random(seed)
    return [
        MentionRecord(
            id=index + 1, org_id=1 + index % 2, title=" ".join(rng.sample(WORDS, 3)).capitalize(),
            description="d", kind="feature_request", theme=rng.choice(["data", "reporting"]),
            sub_theme=rng.choice(["a", "b", "c"]), customer=f"c{index % 7}", source="slack",
            sent_at=START + timedelta(minutes=index), external_id=f"m{index}", ordinal=0,
        )
        for index in range(count)
    ]  # fmt: skip


def _judge(item: MatchInput) -> tuple[str | None, float]:
    """Same ask when the first word is the same (a stand-in for the offline matcher)."""
    for candidate in item.candidates:
        if candidate.title.split()[0].lower() == item.title.split()[0].lower():
            return candidate.id, 0.9
    return None, 0.0


def test_every_mention_lands_in_exactly_one_request_across_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many small chunks: provisional requests of each chunk are freed and their id()s reused; an
    # alias keyed by a stale id() once sent later mentions to unrelated requests and lost some.
    monkeypatch.setattr(linker, "CHUNK_MENTIONS", 7)
    mentions = _mentions(600)
    catalogue = asyncio.run(build_catalog(mentions, matcher_from_function(_judge)))
    placed = [m.id for request in catalogue for m in request.mentions]
    assert sorted(placed) == [m.id for m in mentions]
    for request in catalogue:  # a mention never crosses into another organisation's request
        assert {m.org_id for m in request.mentions} == {request.org_id}


def test_the_index_grows_with_requests_not_mentions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linker, "CHUNK_MENTIONS", 50)
    run = Linker([], matcher_from_function(_judge))
    result = asyncio.run(run.link(_mentions(1000)))
    texts = sum(len(index.entries) for index in run.indexes.values())
    assert texts <= linker.MAX_INDEXED_TEXTS * len(result.created) < 1000
