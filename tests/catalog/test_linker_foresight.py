"""Asking ahead along predicted placements (`Linker(predict=...)`): fewer rounds, same catalogue.

On a young catalogue nearly every placement changes what the next mentions face, so asking what
they face as the catalogue stands settles a few mentions a round. With a predictor the linker
plays the window's placements on a copy of the catalogue with guessed answers and asks the
questions that would follow; answers are still used only for a mention's exact question, so the
catalogue is that of asking one mention at a time, whatever the guesses.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from headway_assets.catalog import Linker, MentionRecord, RequestState, linker
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import MatchInput
from headway_assets.offline import match
from tests.catalog.test_linker_order import _two_orgs

ROOT = Path(__file__).resolve().parents[2]


def _asks() -> list[MentionRecord]:
    """The labelled set's 162 mentions (tests/data/catalogue/asks.jsonl, two companies), read
    as scripts/eval_catalogue.py reads them, each org named in its quote."""
    spec = importlib.util.spec_from_file_location("eval_catalogue", ROOT / "scripts" / "eval_catalogue.py")
    assert spec is not None and spec.loader is not None
    script = sys.modules["eval_catalogue"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = script.load(ROOT / "tests" / "data" / "catalogue" / "asks.jsonl", None)
    return [replace(row.record, quote=f"org {row.record.org_id}: {row.quote}") for row in rows]


def _judge(item: MatchInput) -> CatalogMatch:
    """The offline matcher, also naming as the same ask every other candidate whose title shares
    a word of four letters or more with the mention's (so placements merge requests too)."""
    answer = match(item)
    if answer.candidate_id is None:
        return answer
    words = {word for word in item.title.lower().split() if len(word) >= 4}
    also = [c.id for c in item.candidates if c.id != answer.candidate_id and words & set(c.title.lower().split())]
    return answer.model_copy(update={"also_same": also})


def _wrong(share: float) -> linker.Predictor:
    """`_judge` with a `share` of its answers turned round (chosen by a hash of the question)."""

    def predict(item: MatchInput) -> CatalogMatch:
        answer = _judge(item)
        if int(hashlib.sha256(linker.match_key(item).encode()).hexdigest()[:8], 16) >= share * 2**32:
            return answer
        if answer.candidate_id is not None:
            return CatalogMatch(candidate_id=None, score=0.1)
        return CatalogMatch(candidate_id=item.candidates[0].id, score=0.9)

    return predict


class Counting:
    """A batch matcher answering with `_judge`, counting rounds and questions per org (by quote)."""

    def __init__(self) -> None:
        self.rounds: dict[str, int] = {}
        self.questions = 0

    async def __call__(self, items: Mapping[str, MatchInput]) -> Mapping[str, CatalogMatch]:
        org = next(iter(items.values())).quote.split(":")[0]
        self.rounds[org] = self.rounds.get(org, 0) + 1
        self.questions += len(items)
        await asyncio.sleep(0)
        return {key: _judge(item) for key, item in items.items()}


def _outcome(result: linker.LinkResult) -> list[object]:
    """Everything a run gives out, in its order: created and touched requests with their links, counts."""

    def request(r: RequestState) -> tuple[object, ...]:
        return (r.org_id, r.key, r.title, tuple(r.examples), tuple((m.id, how, score) for m, how, score in r.links))

    return [
        [request(r) for r in result.created],
        [request(r) for r in result.touched],
        [(loser.key, winner.key) for loser, winner in result.merges],
        result.methods,
        result.match_failures,
        result.merge_suggestions,
    ]


def _link(
    mentions: list[MentionRecord], predict: linker.Predictor | None, requests: list[RequestState] | None = None
) -> tuple[list[object], Counting, Linker]:
    counting = Counting()
    run = Linker(requests or [], counting, predict)
    return _outcome(asyncio.run(run.link(mentions))), counting, run


@pytest.mark.parametrize("data", ["asks", "synthetic"])
def test_foresight_keeps_the_one_at_a_time_catalogue_in_far_fewer_rounds(
    monkeypatch: pytest.MonkeyPatch, data: str
) -> None:
    mentions = _asks() if data == "asks" else _two_orgs(150)
    ahead, plain, _ = _link(mentions, None)
    foreseen, guessed, run = _link(mentions, _judge)
    assert foreseen == ahead
    assert ahead[3]["new"] > len(ahead[0])  # requests were founded and merged into others
    # A young catalogue: plain asking ahead settles a few mentions a round; right guesses settle
    # ever more questions a round (up to a wave of calls), and ask no question in vain.
    assert sum(guessed.rounds.values()) * 6 <= sum(plain.rounds.values())
    assert guessed.questions <= plain.questions
    assert run.asked == guessed.questions
    monkeypatch.setattr(linker, "LOOKAHEAD", 1)  # one question at a time: the reference
    one_by_one, _, _ = _link(mentions, None)
    assert foreseen == one_by_one


@pytest.mark.parametrize("share", [0.2, 0.5, 1.0])
def test_wrong_guesses_cost_questions_never_placements(share: float) -> None:
    mentions = _asks()
    expected, plain, _ = _link(mentions, None)
    outcome, guessed, _ = _link(mentions, _wrong(share))
    assert outcome == expected
    if share <= 0.2:  # mostly right guesses still save rounds
        assert sum(guessed.rounds.values()) < sum(plain.rounds.values())


def test_foresight_on_stored_requests_changes_nothing_there() -> None:
    """A catalogue loaded from the warehouse (stored requests, merged by later mentions): the
    copies the linker plays guesses on leave the real requests as plain asking ahead leaves them."""
    mentions = sorted(_asks(), key=lambda m: m.order_key)
    first, later = mentions[::2], mentions[1::2]

    def stored() -> list[RequestState]:
        built = asyncio.run(Linker([], Counting()).link(first)).created
        for number, request in enumerate(built, start=1):
            request.id, request.links = number, []
        return built

    plain_requests, foreseen_requests = stored(), stored()
    expected, plain, _ = _link(later, None, plain_requests)
    outcome, _, _ = _link(later, _judge, foreseen_requests)
    assert outcome == expected
    assert plain.questions and expected[2]  # asked, and stored requests were merged
    assert [(r.title, r.examples, r.described) for r in foreseen_requests] == [
        (r.title, r.examples, r.described) for r in plain_requests
    ]
