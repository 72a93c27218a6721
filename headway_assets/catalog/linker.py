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
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

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
MAX_MEMBER_WORDINGS = 20  # distinct member titles a request is searched (and stored) under
CHUNK_MENTIONS = 1000
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


def match_key(item: MatchInput) -> str:
    """The content hash of a match input: the engine caches the answer under it."""
    return hashlib.sha256(json.dumps(asdict(item), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Entry:
    text: str  # normalised title or member title
    request: RequestState


@dataclass
class CandidateIndex:
    """One organisation's requests, searchable by wording (rapidfuzz token-set ratio)."""

    entries: list[_Entry] = field(default_factory=list)
    by_theme: dict[str | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_sub_theme: dict[str | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    texts: list[str] = field(default_factory=list)

    def add(self, request: RequestState) -> None:
        """Index `request` under its title and its members' wordings."""
        seen: set[str] = set()
        for raw in [request.title, *request.examples]:
            text = normalise_title(raw)
            if text and text not in seen:
                seen.add(text)
                self.add_wording(request, raw)

    def add_wording(self, request: RequestState, wording: str) -> None:
        """Index `request` under one more wording (a new member's title)."""
        text = normalise_title(wording)
        if not text:
            return
        position = len(self.entries)
        self.entries.append(_Entry(text, request))
        self.texts.append(text)
        self.by_theme[request.theme].append(position)
        self.by_sub_theme[request.sub_theme].append(position)

    def _best(self, query: str, positions: Sequence[int], limit: int, cutoff: float = 0.0) -> list[tuple[int, float]]:
        if not positions or limit <= 0:
            return []
        hits = process.extract(
            query,
            [self.texts[p] for p in positions],
            scorer=fuzz.token_set_ratio,
            limit=limit * 3,  # several texts of one request may rank
            score_cutoff=cutoff,
        )
        return [(positions[index], float(score)) for _, score, index in hits]

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

        if mention.sub_theme is not None:
            take(
                self._best(query, self.by_sub_theme.get(mention.sub_theme, []), SAME_SUB_THEME_CANDIDATES),
                SAME_SUB_THEME_CANDIDATES,
            )
        if mention.theme is not None:
            others = [
                p
                for p in self.by_theme.get(mention.theme, [])
                if self.entries[p].request.sub_theme != mention.sub_theme
            ]
            take(self._best(query, others, SAME_THEME_CANDIDATES), SAME_THEME_CANDIDATES)
            take(self._best(query, range(len(self.entries)), ORG_CANDIDATES, ORG_MIN_SCORE), ORG_CANDIDATES)
        else:  # unplaced: the org's most similar requests
            take(self._best(query, range(len(self.entries)), SAME_SUB_THEME_CANDIDATES), SAME_SUB_THEME_CANDIDATES)
        return chosen


def _candidate(request: RequestState, mention: MentionRecord) -> MatchCandidate:
    title = normalise_title(mention.title)
    examples = sorted(
        (e for e in request.examples if normalise_title(e) != normalise_title(request.title)),
        key=lambda e: -fuzz.token_set_ratio(title, normalise_title(e)),
    )
    return MatchCandidate(
        id=request.key,
        title=request.title,
        description=request.description[:DESCRIPTION_CHARS],
        theme=request.theme,
        sub_theme=request.sub_theme,
        examples=tuple(examples[:MAX_EXAMPLES]),
    )


def _near_identical(mention: MentionRecord, candidates: list[RequestState]) -> tuple[RequestState, float] | None:
    title = normalise_title(mention.title)
    best: tuple[RequestState, float] | None = None
    for request in candidates:
        for text in [request.title, *request.examples]:
            score = fuzz.ratio(title, normalise_title(text)) / 100.0
            if score >= TITLE_MATCH and (best is None or score > best[1] + 1e-12):
                best = (request, score)
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
        while id(request) in self._alias:
            request = self._alias[id(request)]
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
            touched=[r for r in self.touched.values() if id(r) not in self._alias],
            created=[r for r in self.created.values() if id(r) not in self._alias],
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
        self._alias[id(loser)] = winner
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
                self._merge(target, other)


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
