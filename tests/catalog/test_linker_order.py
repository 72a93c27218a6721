"""The linker's result does not depend on how its mentions are grouped (issue 14, item 5).

Linking is defined as placing the mentions one at a time in canonical order; the matcher is asked
ahead in batches, and an answer is used only when it answers exactly the question the mention
faces. So one batch, many runs, any look-ahead window and any chunk size give one catalogue.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from headway_assets.catalog import Linker, MentionRecord, RequestState, build_catalog, linker, matcher_from_function
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import MatchInput
from headway_assets.offline import match

START = datetime(2026, 1, 1, tzinfo=UTC)
ASKS = [
    ("Export to CSV", "Export dashboards to CSV files"),
    ("CSV export limit", "CSV export stops at 100k rows"),
    ("SSO with Okta", "Log in through Okta single sign-on"),
    ("Locked-out users", "People forget their password and get locked out"),
    ("Slow dashboards", "Dashboards take 30 seconds to load"),
    ("Faster dashboards", "Make dashboards load faster"),
    ("Anomaly alerts", "Alert us when a metric suddenly drops"),
    ("Dark mode", "A dark theme for the dashboard builder"),
]


def _mentions(count: int, seed: int = 5) -> list[MentionRecord]:
    rng = random.Random(seed)
    mentions = []
    for index in range(count):
        title, description = rng.choice(ASKS)
        mentions.append(
            MentionRecord(
                id=index + 1, org_id=1, title=title if rng.random() < 0.6 else f"{title} please",
                description=description, kind="feature_request", theme="product",
                sub_theme=rng.choice(["exports", "access", "dashboards"]), customer=f"c{index % 5}",
                source="slack", sent_at=START + timedelta(hours=index), external_id=f"m{index}", ordinal=0,
            )
        )  # fmt: skip
    return mentions


def _membership(requests: list[RequestState]) -> dict[int, str]:
    return {mention.id: request.key for request in requests for mention in request.mentions}


def _offline(item: MatchInput) -> CatalogMatch:
    return match(item)


def test_one_batch_and_one_run_per_day_give_the_same_catalogue() -> None:
    mentions = _mentions(120)
    whole = _membership(asyncio.run(build_catalog(mentions, matcher_from_function(_offline))))
    assert len(set(whole.values())) > 3
    run = Linker([], matcher_from_function(_offline))
    for day in range(0, len(mentions), 9):  # one run a day, the linker kept between runs
        result = asyncio.run(run.link(mentions[day : day + 9]))
    assert _membership(result.created) == whole  # every request created so far, merged ones left out


@pytest.mark.parametrize(("lookahead", "chunk"), [(1, 1000), (3, 1000), (64, 7), (500, 1000)])
def test_lookahead_and_chunk_size_change_nothing(monkeypatch: pytest.MonkeyPatch, lookahead: int, chunk: int) -> None:
    mentions = _mentions(150, seed=9)
    expected = _membership(asyncio.run(build_catalog(mentions, matcher_from_function(_offline))))
    monkeypatch.setattr(linker, "LOOKAHEAD", lookahead)
    monkeypatch.setattr(linker, "LOOKAHEAD_MIN", min(lookahead, linker.LOOKAHEAD_MIN))
    monkeypatch.setattr(linker, "CHUNK_MENTIONS", chunk)
    shuffled = mentions.copy()
    random.Random(1).shuffle(shuffled)  # arrival order within a call does not matter either
    assert _membership(asyncio.run(build_catalog(shuffled, matcher_from_function(_offline)))) == expected


def _two_orgs(count: int) -> list[MentionRecord]:
    """`count` mentions for each of orgs 1 and 2 (different asks drawn), the org named in the quote."""
    mentions = []
    for org_id, seed in ((1, 11), (2, 12)):
        for mention in _mentions(count, seed=seed):
            mentions.append(replace(mention, id=mention.id + 10_000 * org_id, org_id=org_id, quote=f"org {org_id}"))
    return mentions


def _snapshot(run: Linker, result: linker.LinkResult) -> list[object]:
    """Everything a run gives out, in its order: created and touched requests, links, counts."""

    def request(r: RequestState) -> tuple[object, ...]:
        return (r.org_id, r.key, r.title, tuple(r.examples), tuple((m.id, how, score) for m, how, score in r.links))

    return [
        [request(r) for r in result.created],
        [request(r) for r in result.touched],
        result.methods,
        result.match_failures,
        result.merge_suggestions,
        run.rounds,
    ]


@pytest.mark.parametrize("slow_org", [1, 2])
def test_organisations_link_concurrently_with_one_result(slow_org: int) -> None:
    """Two orgs' rounds are in flight together; whichever org's answers come back first, the
    catalogue (requests, keys, links, scores, their order) is that of linking one after the other."""
    mentions = _two_orgs(60)
    in_flight: set[int] = set()
    overlapped: list[bool] = []

    async def delayed(items: Mapping[str, MatchInput]) -> Mapping[str, CatalogMatch]:
        org_id = int(next(iter(items.values())).quote.split()[-1])
        in_flight.add(org_id)
        overlapped.append(len(in_flight) > 1)
        await asyncio.sleep(0.004 if org_id == slow_org else 0.001)
        in_flight.discard(org_id)
        return {key: _offline(item) for key, item in items.items()}

    concurrent = Linker([], delayed)
    concurrent_snapshot = _snapshot(concurrent, asyncio.run(concurrent.link(mentions)))
    assert any(overlapped)  # the orgs' calls really were in flight together

    # The reference: each org linked on its own, one after the other, answering at once.
    sequential = Linker([], matcher_from_function(_offline))
    results = [asyncio.run(sequential.link([m for m in mentions if m.org_id == org])) for org in (1, 2)]
    expected = _snapshot(sequential, results[-1])
    assert concurrent_snapshot == expected
    assert {r.org_id for r in results[-1].created} == {1, 2}
    assert len(results[-1].created) > 6
