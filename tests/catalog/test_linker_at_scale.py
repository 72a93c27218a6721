"""The linker at scale: bounded index, and every mention in exactly one request across many chunks."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from rapidfuzz import fuzz

from headway_assets.catalog import Linker, MentionRecord, build_catalog, linker, matcher_from_function, new_request
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


def _reference_search(index: linker.CandidateIndex, mention: MentionRecord) -> list[str]:
    """`CandidateIndex.search` written plainly, one position at a time (as before it was vectorised):
    the request keys it offers, in order."""
    query = linker.normalise_title(mention.title)
    entries, order = index.entries, index.orders.__getitem__

    def pool(scope: str, place: str | None, size: int, keep: Callable[[int], bool]) -> list[int]:
        common = max(linker.SHORTLIST, int(size * linker.COMMON_WORD_SHARE))
        lists = [found for word in sorted(set(query.split())) if (found := index._postings.get((scope, place, word)))]
        selective = [p for p in lists if len(p) <= common] or sorted(lists, key=len)[:1]
        shared = Counter(p for positions in selective for p in positions)
        live = [p for p in shared if p not in index.dead and keep(p)]
        return sorted(live, key=lambda p: (-shared[p], order(p)))[: linker.SHORTLIST]

    def best(scope: str, place: str | None, keep: Callable[[int], bool], limit: int, cutoff: float = 0.0) -> list:
        size = index.live_size(scope, place)
        if size <= linker.SHORTLIST:
            chosen = [p for p in range(len(entries)) if p not in index.dead and keep(p)]
        else:
            chosen = pool(scope, place, size, keep)
        scored = [(p, fuzz.token_set_ratio(query, index.texts[p])) for p in chosen]
        hits = sorted((hit for hit in scored if hit[1] >= cutoff), key=lambda hit: (-hit[1], order(hit[0])))
        return hits[: limit * 3]

    def same_sub_theme(p: int) -> bool:
        return entries[p].sub_theme == mention.sub_theme

    def other_sub_theme(p: int) -> bool:
        return entries[p].theme == mention.theme and entries[p].sub_theme != mention.sub_theme

    assert mention.theme is not None and mention.sub_theme is not None  # the path written out here
    chosen: list[str] = []
    for scope, place, keep, limit, cutoff in (
        ("sub_theme", mention.sub_theme, same_sub_theme, linker.SAME_SUB_THEME_CANDIDATES, 0.0),
        ("theme", mention.theme, other_sub_theme, linker.SAME_THEME_CANDIDATES, 0.0),
        ("org", None, lambda p: True, linker.ORG_CANDIDATES, linker.ORG_MIN_SCORE),
    ):
        taken = 0
        for position, _ in best(scope, place, keep, limit, cutoff):
            key = entries[position].request.key
            if key not in chosen:
                chosen.append(key)
                taken += 1
                if taken >= limit:
                    break
    return chosen


def test_the_vectorised_search_offers_what_a_plain_one_does() -> None:
    # Scopes far larger than the shortlist, words shared by many texts, dropped requests, ties.
    rng = random.Random(11)
    vocabulary = [*WORDS, "mobile", "admins", "workspace", "region", "teams", "guests", "projects", "folders"]
    index = linker.CandidateIndex()
    requests = []
    for number in range(160):
        request = new_request(_mentions(1, seed=number)[0])
        request.key, request.title = f"k{number:03d}", " ".join(rng.sample(vocabulary, rng.randint(2, 5)))
        request.theme, request.sub_theme = rng.choice(["data", "reporting"]), rng.choice(["a", "b", "c", None])
        request.examples = [" ".join(rng.sample(vocabulary, rng.randint(1, 5))) for _ in range(rng.randint(0, 6))]
        index.add(request)
        requests.append(request)
    for request in rng.sample(requests, 20):
        index.drop(request)
    mentions = _mentions(300, seed=5)
    assert max(index.live_size("sub_theme", s) for s in "abc") > linker.SHORTLIST
    for mention in mentions:
        assert [r.key for r in index.search(mention, lambda r: r)] == _reference_search(index, mention)
    index.compact()
    for mention in mentions[:100]:
        assert [r.key for r in index.search(mention, lambda r: r)] == _reference_search(index, mention)


def test_match_keys_hash_the_json_of_the_whole_input() -> None:
    """`match_key` writes each candidate's JSON once and reuses it: the bytes it hashes must be
    those of `json.dumps` over the whole input, so cached answers keep their keys."""
    import hashlib
    import json

    from headway_assets.llm.tasks import MatchCandidate

    rng = random.Random(7)
    words = ["Export", "PDF", "naïve", "Zoë's", 'quote "x"', "tab\tand\nline", "émoji 🚀", "", "ß", "\\slash"]

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))

    def place() -> str | None:
        return rng.choice([None, "", "reporting", "reporting/exports"])

    for _ in range(300):
        candidates = tuple(
            MatchCandidate(
                id=f"r{rng.randint(0, 5)}",
                title=text(),
                description=text(),
                theme=place(),
                sub_theme=place(),
                examples=tuple(text() for _ in range(rng.randint(0, 3))),
            )
            for _ in range(rng.randint(0, 4))
        )
        item = MatchInput(
            title=text(),
            description=text(),
            sub_theme=place(),
            candidates=candidates,
            theme=place(),
            quote=text(),
            kind=rng.choice(["", "feature_request", "bug_report"]),
        )
        whole = json.dumps(linker._plain(item), sort_keys=True, ensure_ascii=False)
        assert linker.match_key(item) == hashlib.sha256(whole.encode()).hexdigest()
