"""Linking new mentions into the catalogue: candidate search, one batched judgement, resolution.

For each new mention (canonical order: sent time, source, external id, position):

1. **Candidates** come from an in-process rapidfuzz index of the org's requests (their titles
   and a few member titles): every request of the mention's sub-theme (the most similar first,
   up to `SAME_SUB_THEME_CANDIDATES`), the most similar of the other sub-themes of its theme,
   and anywhere in the org the few whose wording is very close. Earlier new mentions of the
   same run are candidates too, as the requests they would found.
2. **A near-identical title** (>= `TITLE_MATCH`) links at once, without asking anyone.
3. **The matcher judges the rest in one batch**: every mention with its own candidates, handed
   to the engine at once (which packs many mentions per call, runs calls concurrently and
   caches each answer by the mention and its candidate set).
4. **Resolution**, in canonical order: an answer naming a request links the mention to it; an
   answer naming an earlier new mention links it to wherever that mention went; no answer
   above `AI_MATCH` founds a new request.

Mentions are linked in chunks of `CHUNK_MENTIONS`, so a rebuild of a long history compares
each mention with the requests built so far, not with every other mention. A run's cost grows
with its new mentions; stored requests are only searched.

At scale (docs/benchmarks.md, 100,000 mentions): a request is searchable by at most
`MAX_INDEXED_TEXTS` texts, so the index grows with the requests, not the mentions; a scope of up
to `SHORTLIST` texts is scored whole, a larger one only on the texts sharing most selective words
with the mention (word postings per scope), so each search costs about the same at any size.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import islice

from rapidfuzz import fuzz, process

from headway_assets.catalog.model import (
    METHOD_AI,
    METHOD_NEW,
    METHOD_PINNED,
    METHOD_TITLE,
    MentionRecord,
    RequestState,
    new_request,
    normalise_title,
)
from headway_assets.llm.engine import LlmEngine
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import AI_MATCH, MatchCandidate, MatchInput

TITLE_MATCH = 0.9  # title similarity that links at once
SAME_SUB_THEME_CANDIDATES = 8
SAME_THEME_CANDIDATES = 5
ORG_CANDIDATES = 2
ORG_MIN_SCORE = 80.0  # rapidfuzz token-set ratio a request of another theme needs to be offered
MAX_EXAMPLES = 3  # member titles shown with a candidate: the ones worded most like the new mention
MAX_INDEXED_TEXTS = 16  # texts a request is searchable by: its title and member titles
MAX_MEMBER_WORDINGS = MAX_INDEXED_TEXTS  # distinct member titles a request keeps (and is stored with)
SHORTLIST = 64  # a scope with more texts is searched among those sharing most words with the mention
COMMON_WORD_SHARE = 0.2  # a word in more of an org's texts than this does not select candidates
CHUNK_MENTIONS = 1000
SCORED_QUERIES = 2048  # queries whose token-set ratios `SetRatios` keeps (a few hundred texts each)
DESCRIPTION_CHARS = 300  # of a candidate's description, in the matcher's input

# A matcher's answer for one mention: a `CatalogMatch` (with the other candidates that are the
# same ask too), or just (candidate id or None, score).
MatchAnswer = CatalogMatch | tuple[str | None, float]
# A batch matcher: match inputs keyed by a content hash -> an answer per key.
BatchMatcher = Callable[[Mapping[str, MatchInput]], Awaitable[Mapping[str, MatchAnswer]]]


def _as_match(answer: MatchAnswer) -> CatalogMatch:
    if isinstance(answer, CatalogMatch):
        return answer
    candidate_id, score = answer
    return CatalogMatch(candidate_id=candidate_id, score=max(0.0, min(1.0, score)))


def _plain(item: MatchInput) -> dict[str, object]:
    """`dataclasses.asdict(item)` without its generic deep copy (a tenth of the cost; same JSON)."""
    plain: dict[str, object] = {f.name: getattr(item, f.name) for f in fields(item)}
    plain["candidates"] = [{f.name: getattr(c, f.name) for f in fields(c)} for c in item.candidates]
    return plain


def match_key(item: MatchInput) -> str:
    """The content hash of a match input: the engine caches the answer under it."""
    return hashlib.sha256(json.dumps(_plain(item), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class SetRatios:
    """rapidfuzz's token-set ratio of a query against texts, remembered for the latest queries.

    A rebuild scores the same wordings again and again: the three scopes of one search overlap,
    an ask's popular wordings come back mention after mention, and a candidate's examples are
    ranked against the query its search has just scored them against. Scores are those of
    `fuzz.token_set_ratio` (the same function, called in bulk through `process.extract`), so
    every ranking built on them is unchanged.
    """

    def __init__(self, queries: int = SCORED_QUERIES) -> None:
        self.queries = queries
        self._by_query: OrderedDict[str, dict[str, float]] = OrderedDict()

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """`fuzz.token_set_ratio(query, text)` for each of `texts`, in order."""
        known = self._by_query.get(query)
        if known is None:
            known = self._by_query[query] = {}
            if len(self._by_query) > self.queries:
                self._by_query.popitem(last=False)
        else:
            self._by_query.move_to_end(query)
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            for text, score, _ in process.extract(query, missing, scorer=fuzz.token_set_ratio, limit=None):
                known[text] = score
        return [known[text] for text in texts]


_SET_RATIOS = SetRatios()


@dataclass
class _Entry:
    text: str  # normalised title or member title
    request: RequestState
    theme: str | None  # where the text was said (a member may sit in a neighbouring sub-theme)
    sub_theme: str | None


@dataclass
class CandidateIndex:
    """One organisation's requests, searchable by wording (rapidfuzz token-set ratio).

    A request is searchable by its title and at most `MAX_INDEXED_TEXTS` texts in all (member
    titles as they join), so the index grows with the requests, not with the mentions.
    """

    entries: list[_Entry] = field(default_factory=list)
    by_theme: dict[str | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_sub_theme: dict[str | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    texts: list[str] = field(default_factory=list)
    _indexed: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # id(request) -> its texts
    # (scope, place, word) -> positions, scope "org" (place None), "theme" or "sub_theme"
    _postings: dict[tuple[str, str | None, str], list[int]] = field(default_factory=lambda: defaultdict(list))

    def _append(self, text: str, request: RequestState, theme: str | None, sub_theme: str | None) -> None:
        indexed = self._indexed[id(request)]
        if not text or text in indexed or len(indexed) >= MAX_INDEXED_TEXTS:
            return
        indexed.add(text)
        position = len(self.entries)
        self.entries.append(_Entry(text, request, theme, sub_theme))
        self.texts.append(text)
        self.by_theme[theme].append(position)
        self.by_sub_theme[sub_theme].append(position)
        for word in set(text.split()):
            self._postings[("org", None, word)].append(position)
            self._postings[("theme", theme, word)].append(position)
            self._postings[("sub_theme", sub_theme, word)].append(position)

    def add(self, request: RequestState, texts: Iterable[str] | None = None) -> None:
        """Index `request` under its title (and `texts`, default its examples)."""
        for raw in [request.title, *(request.examples if texts is None else texts)]:
            self._append(normalise_title(raw), request, request.theme, request.sub_theme)

    def add_wording(self, request: RequestState, wording: str) -> None:
        """Index `request` under one more wording (a new member's title), within its cap."""
        self._append(normalise_title(wording), request, request.theme, request.sub_theme)

    def compact(self, resolve: Callable[[RequestState], RequestState]) -> None:
        """Point the texts of provisional requests that joined another at it (within its cap)."""
        entries = self.entries
        self.entries, self.texts = [], []
        self.by_theme, self.by_sub_theme = defaultdict(list), defaultdict(list)
        self._indexed, self._postings = defaultdict(set), defaultdict(list)
        for entry in entries:
            self._append(entry.text, resolve(entry.request), entry.theme, entry.sub_theme)

    def _pool(self, query: str, scope: str, place: str | None, scope_size: int) -> list[int]:
        """Positions of the scope's texts sharing a selective word with `query`, most words shared
        first. A word in more than `COMMON_WORD_SHARE` of the scope's texts selects nothing (unless
        the query has no other word), so the pool stays a small part of a large scope.
        """
        common = max(SHORTLIST, int(scope_size * COMMON_WORD_SHARE))
        postings = self._postings
        lists = [found for word in sorted(set(query.split())) if (found := postings.get((scope, place, word)))]
        selective = [positions for positions in lists if len(positions) <= common] or sorted(lists, key=len)[:1]
        if len(selective) == 1:
            return list(selective[0])  # a position is in a list once: every count is 1, list order
        shared: Counter[int] = Counter()
        for positions in selective:
            shared.update(positions)
        # Most words shared first; ties in index order (the first word's postings come in order).
        # (`shared.most_common()`'s order: a stable sort of the counts, highest first.)
        return sorted(shared, key=shared.__getitem__, reverse=True)

    def _best(
        self,
        query: str,
        positions: Callable[[], Sequence[int]],
        pool: Callable[[], Iterable[int]],
        scope_size: int,
        limit: int,
        cutoff: float = 0.0,
    ) -> list[tuple[int, float]]:
        """The best `limit` texts of a scope by token-set ratio: every text of a small scope (up
        to `SHORTLIST`); of a larger one, the `SHORTLIST` in `pool` sharing most words."""
        if scope_size <= 0 or limit <= 0:
            return []
        chosen = list(positions()) if scope_size <= SHORTLIST else list(islice(pool(), SHORTLIST))
        if not chosen:
            return []
        texts = self.texts
        scores = _SET_RATIOS.scores(query, [texts[p] for p in chosen])
        # What `process.extract(query, texts, limit=limit * 3, score_cutoff=cutoff)` returns: the
        # best first, ties in the order of `chosen`; several texts of one request may rank.
        hits = sorted((i for i, score in enumerate(scores) if score >= cutoff), key=lambda i: -scores[i])
        return [(chosen[i], float(scores[i])) for i in hits[: limit * 3]]

    def search(self, mention: MentionRecord, resolve: Callable[[RequestState], RequestState]) -> list[RequestState]:
        """Candidate requests for `mention`, the most promising first, each once."""
        query = normalise_title(mention.title)
        chosen: list[RequestState] = []
        seen: set[int] = set()

        def take(hits: list[tuple[int, float]], limit: int) -> None:
            taken = 0
            for position, _ in sorted(hits, key=lambda hit: (-hit[1], hit[0])):
                request = resolve(self.entries[position].request)
                if id(request) in seen:
                    continue
                seen.add(id(request))
                chosen.append(request)
                taken += 1
                if taken >= limit:
                    return

        entries = self.entries
        if mention.sub_theme is not None:
            sub = self.by_sub_theme.get(mention.sub_theme, [])
            take(
                self._best(
                    query,
                    lambda: sub,
                    lambda: self._pool(query, "sub_theme", mention.sub_theme, len(sub)),
                    len(sub),
                    SAME_SUB_THEME_CANDIDATES,
                ),
                SAME_SUB_THEME_CANDIDATES,
            )
        everything = range(len(entries))
        if mention.theme is not None:
            theme = self.by_theme.get(mention.theme, [])

            def others(positions: Iterable[int]) -> Iterator[int]:
                return (
                    p
                    for p in positions
                    if entries[p].theme == mention.theme and entries[p].sub_theme != mention.sub_theme
                )

            take(
                self._best(
                    query,
                    lambda: list(others(theme)),
                    lambda: others(self._pool(query, "theme", mention.theme, len(theme))),
                    len(theme),
                    SAME_THEME_CANDIDATES,
                ),
                SAME_THEME_CANDIDATES,
            )

        def org_pool() -> list[int]:
            return self._pool(query, "org", None, len(entries))

        if mention.theme is not None:
            take(
                self._best(query, lambda: everything, org_pool, len(entries), ORG_CANDIDATES, ORG_MIN_SCORE),
                ORG_CANDIDATES,
            )
        else:  # unplaced: the org's most similar requests
            take(
                self._best(query, lambda: everything, org_pool, len(entries), SAME_SUB_THEME_CANDIDATES),
                SAME_SUB_THEME_CANDIDATES,
            )
        return chosen


def _candidate(request: RequestState, mention: MentionRecord) -> MatchCandidate:
    title = normalise_title(mention.title)
    own = normalise_title(request.title)
    examples = [e for e in request.examples if normalise_title(e) != own]
    if len(examples) > 1:
        scores = _SET_RATIOS.scores(title, [normalise_title(e) for e in examples])
        order = sorted(range(len(examples)), key=lambda i: -scores[i])  # stable: ties keep their order
        examples = [examples[i] for i in order]
    return MatchCandidate(
        id=request.key,
        title=request.title,
        description=request.description[:DESCRIPTION_CHARS],
        theme=request.theme,
        sub_theme=request.sub_theme,
        examples=tuple(examples[:MAX_EXAMPLES]),
    )


# `fuzz.ratio` below this cannot reach `TITLE_MATCH`: texts under it are not scored one by one
# (a little below 90, so that rounding at the threshold can never leave a text out).
_NEAR_CUTOFF = 100.0 * TITLE_MATCH - 1.0


def _near_identical(mention: MentionRecord, candidates: list[RequestState]) -> tuple[RequestState, float] | None:
    title = normalise_title(mention.title)
    owners: list[RequestState] = []
    texts: list[str] = []
    for request in candidates:
        for text in [request.title, *request.examples]:
            owners.append(request)
            texts.append(normalise_title(text))
    # One bulk call; the texts at or above the cutoff are then judged in order, as one by one.
    close = sorted(
        (index, score)
        for _, score, index in process.extract(title, texts, scorer=fuzz.ratio, score_cutoff=_NEAR_CUTOFF, limit=None)
    )
    best: tuple[RequestState, float] | None = None
    for index, ratio in close:
        score = ratio / 100.0
        if score >= TITLE_MATCH and (best is None or score > best[1] + 1e-12):
            best = (owners[index], score)
    return best


@dataclass
class LinkResult:
    """What a linking pass did: every request it touched (new ones have no id) and counts."""

    touched: list[RequestState]
    created: list[RequestState]
    methods: dict[str, int]
    match_failures: int = 0
    # Stored requests found to be the same ask as another (loser, winner): the loser's links move.
    merges: list[tuple[RequestState, RequestState]] = field(default_factory=list)
    # Two requests people decided on that the matcher found to be one ask: left for people.
    merge_suggestions: int = 0


class Linker:
    """Links mentions of one or more organisations into their requests (see the module docs)."""

    def __init__(self, requests: Iterable[RequestState], matcher: BatchMatcher) -> None:
        self.matcher = matcher
        self.indexes: dict[int, CandidateIndex] = defaultdict(CandidateIndex)
        self._alias: dict[int, RequestState] = {}  # id() of a provisional request -> where its founder went
        # id() of a request merged into another -> that one. Unlike `_alias` (a chunk's provisional
        # requests, freed after it), a merged request stays referenced (`touched`, `created` or
        # `merges`) until the run ends, so its id() is never reused while this map holds it.
        self._merged: dict[int, RequestState] = {}
        # Stored requests by key: a mention that founded one and was re-extracted since (a new
        # provider, a changed message) comes back to it instead of founding it again.
        self.by_key: dict[tuple[int, str], RequestState] = {}
        for request in requests:
            self.indexes[request.org_id].add(request)
            self.by_key[(request.org_id, request.key)] = request
        self.touched: dict[int, RequestState] = {}
        self.created: dict[int, RequestState] = {}
        self.methods: dict[str, int] = defaultdict(int)
        self.failures = 0
        self.merges: list[tuple[RequestState, RequestState]] = []
        self.suggestions = 0

    def _resolve(self, request: RequestState) -> RequestState:
        while id(request) in self._alias or id(request) in self._merged:
            request = self._alias.get(id(request)) or self._merged[id(request)]
        return request

    def _link(self, request: RequestState, mention: MentionRecord, method: str, score: float) -> None:
        request.links.append((mention, method, round(score, 4)))
        wordings = {normalise_title(text) for text in [request.title, *request.examples]}
        if normalise_title(mention.title) not in wordings and len(request.examples) < MAX_MEMBER_WORDINGS:
            # Searchable under this wording from now on (the next mention may be worded like it).
            request.examples.append(mention.title)
            self.indexes[request.org_id].add_wording(request, mention.title)
        self.touched[id(request)] = request
        self.methods[method] += 1

    def pin(self, mention: MentionRecord, request: RequestState) -> None:
        """Place `mention` where a person put it (never judged)."""
        self._link(request, mention, METHOD_PINNED, 1.0)

    async def link(self, mentions: Sequence[MentionRecord]) -> LinkResult:
        """Link `mentions` (any order in; canonical order used) and report what changed."""
        ordered = sorted(mentions, key=lambda m: (m.org_id, m.order_key))
        for start in range(0, len(ordered), CHUNK_MENTIONS):
            await self._link_chunk(ordered[start : start + CHUNK_MENTIONS])
        return LinkResult(
            touched=[r for r in self.touched.values() if id(r) not in self._merged],
            created=[r for r in self.created.values() if id(r) not in self._merged],
            methods=dict(sorted(self.methods.items())),
            match_failures=self.failures,
            merges=[(loser, self._resolve(winner)) for loser, winner in self.merges],
            merge_suggestions=self.suggestions,
        )

    def _merge(self, one: RequestState, other: RequestState) -> None:
        """`one` and `other` are the same ask: the later one's mentions join the earlier one."""
        one, other = self._resolve(one), self._resolve(other)
        if one is other:
            return
        if one.decided and other.decided:
            self.suggestions += 1  # people decided on both: merging them is their call
            return
        if one.decided != other.decided:
            winner, loser = (one, other) if one.decided else (other, one)
        else:
            winner, loser = (one, other) if one.rank <= other.rank else (other, one)
        self._merged[id(loser)] = winner
        winner.links += loser.links
        loser.links = []
        for wording in [loser.title, *loser.examples]:
            known = {normalise_title(text) for text in [winner.title, *winner.examples]}
            if normalise_title(wording) not in known and len(winner.examples) < MAX_MEMBER_WORDINGS:
                winner.examples.append(wording)
        self.touched[id(winner)] = winner
        self.touched.pop(id(loser), None)
        if loser.id is not None:
            self.merges.append((loser, winner))

    async def _link_chunk(self, chunk: list[MentionRecord]) -> None:
        provisional: dict[int, RequestState] = {}  # mention id -> the request it would found
        decided: dict[int, tuple[RequestState, str, float]] = {}
        asked: dict[int, tuple[str, MatchInput, dict[str, RequestState]]] = {}
        for mention in chunk:
            index = self.indexes[mention.org_id]
            candidates = index.search(mention, self._resolve)
            near = _near_identical(mention, candidates)
            if near is not None:
                decided[mention.id] = (near[0], METHOD_TITLE, near[1])
            elif candidates:
                item = MatchInput(
                    title=mention.title,
                    description=mention.description,
                    sub_theme=mention.sub_theme,
                    candidates=tuple(_candidate(request, mention) for request in candidates),
                    theme=mention.theme,
                    quote=mention.quote,
                    kind=mention.kind,
                )
                asked[mention.id] = (match_key(item), item, {request.key: request for request in candidates})
            # Until resolved, an earlier new mention stands for the request it would found.
            founded = provisional[mention.id] = new_request(mention)
            founded.links.clear()
            index.add(founded)
        answers = await self.matcher({key: item for key, item, _ in asked.values()}) if asked else {}
        for mention in chunk:
            founded = provisional[mention.id]
            target: RequestState | None = None
            also: list[RequestState] = []
            method, score = METHOD_AI, 0.0
            if mention.id in decided:
                target, method, score = decided[mention.id]
            elif mention.id in asked:
                key, _, by_key = asked[mention.id]
                raw = answers.get(key)
                if raw is None:
                    self.failures += 1
                else:
                    answer = _as_match(raw)
                    score = answer.score
                    if answer.candidate_id in by_key and score >= AI_MATCH:
                        target = by_key[answer.candidate_id]
                        also = [by_key[c] for c in answer.also_same if c in by_key]
            if target is not None:
                target = self._resolve(target)
            if target is None or target is founded:
                returning = self.by_key.get((founded.org_id, founded.key))
                if returning is not None:
                    self._alias[id(founded)] = self._resolve(returning)
                    self._link(self._resolve(returning), mention, METHOD_TITLE, 1.0)
                    continue
                founded.links.clear()
                self._link(founded, mention, METHOD_NEW, 1.0)
                self.created[id(founded)] = founded
                continue
            self._alias[id(founded)] = target  # later mentions that chose this one follow it
            self._link(target, mention, method, score)
            for other in also:  # this mention bridges requests kept apart: one ask
                if self._resolve(other).theme == target.theme:  # across themes: people decide
                    self._merge(target, other)
        for org_id in {mention.org_id for mention in chunk}:
            self.indexes[org_id].compact(self._resolve)
        # Compaction pointed every index entry at a live request, so no later search meets a
        # provisional request of this chunk. Drop the aliases now: they are keyed by id(), and once
        # this chunk's provisional requests are freed their ids are reused by new objects, which
        # a stale alias would send to an unrelated request.
        self._alias.clear()


async def build_catalog(mentions: Sequence[MentionRecord], matcher: BatchMatcher) -> list[RequestState]:
    """The catalogue of all `mentions` built from nothing (any order in; canonical order used)."""
    result = await Linker([], matcher).link(mentions)
    return sorted(result.created, key=lambda r: (r.org_id, min(m.order_key for m in r.mentions)))


def engine_matcher(engine: LlmEngine, failures: list[str] | None = None) -> BatchMatcher:
    """A batch matcher on an LLM engine (batched, concurrent, cached); failed answers are counted
    in `failures` by status, and their mentions found requests of their own."""

    async def match(items: Mapping[str, MatchInput]) -> Mapping[str, MatchAnswer]:
        answers = await engine.match(items)
        result: dict[str, MatchAnswer] = {}
        for key in items:
            answer = answers.get(key)
            if isinstance(answer, CatalogMatch):
                result[key] = answer
            elif answer is not None and failures is not None:
                failures.append(answer.status)
        return result

    return match


def matcher_from_function(judge: Callable[[MatchInput], MatchAnswer]) -> BatchMatcher:
    """A batch matcher answering each item with `judge` in process (the offline matcher, tests)."""

    async def match(items: Mapping[str, MatchInput]) -> Mapping[str, MatchAnswer]:
        return {key: judge(item) for key, item in items.items()}

    return match
