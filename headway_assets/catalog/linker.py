"""Linking new mentions into the catalogue: candidate search, batched judgements, placement.

The catalogue is what placing an organisation's mentions one at a time in canonical order (sent
time, source, external id, position) gives, whatever batches, runs or chunks they come in, so it
does not depend on the order in which days land (docs/quality.md, "Order independence"):

1. **Candidates** come from an in-process rapidfuzz index of the org's requests (their titles
   and a few member titles): every request of the mention's sub-theme (the most similar first,
   up to `SAME_SUB_THEME_CANDIDATES`), the most similar of the other sub-themes of its theme,
   and anywhere in the org the few whose wording is very close. Equal scores are ranked by text
   and request key, never by when a text was indexed.
2. **A near-identical title** (>= `TITLE_MATCH`) links at once, without asking anyone.
3. **The matcher is asked ahead, in batches**: for the next `LOOKAHEAD` mentions, what each faces
   in the catalogue as it stands, handed to the engine at once (which packs many mentions per
   call, runs calls concurrently and caches each answer by the mention and its candidates, shown
   with their members' titles and descriptions). With a predictor (a cheap local guess of the
   matcher's answers: the offline matcher, for a hosted model), a round instead plays the next
   mentions' placements on a copy of the org's catalogue with guessed answers and asks the
   questions that follow, up to a budget that grows while the guesses hold (`GUESSED_MAX`, one
   wave of calls) and shrinks when they fail (`GUESSED_MIN`).
4. **Placement**, in canonical order: an answer is used only when its question is exactly the
   one the mention faces once every earlier mention is placed (else the linker asks ahead again
   from there). An answer naming a request links the mention to it (and merges the others it
   names as the same ask, within a theme); no answer above `AI_MATCH` founds a new request.

Organisations link concurrently: one org's mentions never change what another's face (indexes,
stored keys, merges and versions are per org; a match key holds its candidates' request keys,
which hash the org), so each org asks ahead in rounds of its own, and the run's output lists are
filled org by org, in the order a sequential pass gives, whatever the answers' timing.

Mentions are linked in chunks of `CHUNK_MENTIONS`, so a rebuild of a long history compares
each mention with the requests built so far, not with every other mention. A run's cost grows
with its new mentions; stored requests are only searched.

At scale (docs/benchmarks.md, 100,000 mentions): a request is searchable by at most
`MAX_INDEXED_TEXTS` texts, so the index grows with the requests, not the mentions; a scope of up
to `SHORTLIST` texts is scored whole, a larger one only on the texts sharing most selective words
with the mention (word postings per scope, counted and ranked with numpy arrays), so each search
costs about the same at any size. While an org's catalogue stands still (no founding, new wording
or merge), a question is computed once per mention wording and a search once per title and place.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import hashlib
import json
from collections import ChainMap, Counter, OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache

import numpy as np
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
LOOKAHEAD = 20  # mentions asked ahead in one batch (one LLM call holds up to 20)
LOOKAHEAD_MIN = 4
# Questions a round asks along guessed placements: twice the last round's used, within these
# bounds (docs/benchmarks.md, "Asking ahead along guessed placements"). The most is one wave of
# the engine's default 16 calls in flight of 20 mentions, so right guesses cost no extra round
# trip; a few, so wrong ones cost few questions in vain.
GUESSED_MIN = 8
GUESSED_MAX = 320
REMEMBERED_QUESTIONS = 8192  # questions kept per org while its catalogue stands (then started afresh)
REMEMBERED_VIEWS = 16_384  # candidate views (request, member count, mention title) kept across versions
SCORED_QUERIES = 2048  # queries whose token-set ratios `SetRatios` keeps (a few hundred texts each)
SCORED_QUERIES_PER_INDEX = 1024  # queries whose ratios a `CandidateIndex` keeps by position (all its texts)
DESCRIPTION_CHARS = 300  # of a candidate's description, in the matcher's input

# A matcher's answer for one mention: a `CatalogMatch` (with the other candidates that are the
# same ask too), or just (candidate id or None, score).
MatchAnswer = CatalogMatch | tuple[str | None, float]
# A batch matcher: match inputs keyed by a content hash -> an answer per key.
BatchMatcher = Callable[[Mapping[str, MatchInput]], Awaitable[Mapping[str, MatchAnswer]]]
# A cheap local guess of the matcher's answer (the offline matcher): used only to foresee which
# questions later mentions will face, never to place a mention.
Predictor = Callable[[MatchInput], MatchAnswer]


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


_MATCH_FIELDS = tuple(f.name for f in fields(MatchInput) if f.name != "candidates")
# `match_key` writes the candidates first: with sorted keys they come first (checked here, once).
assert min(_MATCH_FIELDS) > "candidates"


@lru_cache(maxsize=16_384)
def _candidate_json(candidate: MatchCandidate) -> str:
    """A candidate as `json.dumps(_plain(item), sort_keys=True)` writes it inside a match input."""
    return json.dumps(
        {f.name: getattr(candidate, f.name) for f in fields(candidate)}, sort_keys=True, ensure_ascii=False
    )


def match_key(item: MatchInput) -> str:
    """The content hash of a match input: the engine caches the answer under it.

    The SHA-256 of `json.dumps(_plain(item), sort_keys=True, ensure_ascii=False)`, written with each
    candidate's JSON made once (a candidate is offered to many mentions): the same bytes."""
    rest = json.dumps({name: getattr(item, name) for name in _MATCH_FIELDS}, sort_keys=True, ensure_ascii=False)
    text = '{"candidates": [' + ", ".join(map(_candidate_json, item.candidates)) + "], " + rest[1:]
    return hashlib.sha256(text.encode()).hexdigest()


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


_NO_POSITIONS = np.zeros(0, dtype=np.int64)


@dataclass
class _Frame:
    """Per position of a `CandidateIndex`: the rank of its tie-break, dead or not, its sub-theme."""

    rank: np.ndarray
    dead: np.ndarray
    sub: np.ndarray


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
    # Per position, the tie-break of equal scores (`_order`), built once when the text is indexed.
    orders: list[tuple[str, str]] = field(default_factory=list)
    _by_order: list[int] = field(default_factory=list)  # positions sorted by their tie-break
    _sub_ids: list[int] = field(default_factory=list)  # per position, its sub-theme's number
    _sub_numbers: dict[str | None, int] = field(default_factory=dict)
    # Arrays of the word postings and of the positions (`_Frame`), built when a search needs them
    # after the index changed: a rebuild runs many searches between two changes.
    _arrays: dict[tuple[str, str | None, str], np.ndarray] = field(default_factory=dict)
    _frame: _Frame | None = None
    # Token-set ratios of the latest queries by position (NaN: not scored yet), until compaction.
    _scored: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    _indexed: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # id(request) -> its texts
    # (scope, place, word) -> positions, scope "org" (place None), "theme" or "sub_theme"
    _postings: dict[tuple[str, str | None, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    _positions: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # id(request) -> positions
    # Positions of dropped texts (a merged request's): never offered, removed at the next compaction.
    dead: set[int] = field(default_factory=set)
    _dead_in: Counter[tuple[str, str | None]] = field(default_factory=Counter)  # dead positions per scope

    def _append(self, text: str, request: RequestState, theme: str | None, sub_theme: str | None) -> None:
        indexed = self._indexed[id(request)]
        if not text or text in indexed or len(indexed) >= MAX_INDEXED_TEXTS:
            return
        indexed.add(text)
        position = len(self.entries)
        self._positions[id(request)].append(position)
        self.entries.append(_Entry(text, request, theme, sub_theme))
        self.texts.append(text)
        self.orders.append((text, request.key))
        bisect.insort(self._by_order, position, key=self.orders.__getitem__)
        self._sub_ids.append(self._sub_numbers.setdefault(sub_theme, len(self._sub_numbers)))
        self._frame = None
        self.by_theme[theme].append(position)
        self.by_sub_theme[sub_theme].append(position)
        for word in set(text.split()):
            for key in (("org", None, word), ("theme", theme, word), ("sub_theme", sub_theme, word)):
                self._postings[key].append(position)
                self._arrays.pop(key, None)

    def add(self, request: RequestState, texts: Iterable[str] | None = None) -> None:
        """Index `request` under its title (and `texts`, default its examples)."""
        for raw in [request.title, *(request.examples if texts is None else texts)]:
            self._append(normalise_title(raw), request, request.theme, request.sub_theme)

    def add_wording(self, request: RequestState, wording: str) -> None:
        """Index `request` under one more wording (a new member's title), within its cap."""
        self._append(normalise_title(wording), request, request.theme, request.sub_theme)

    def drop(self, request: RequestState) -> None:
        """Stop offering `request` (its texts stay as dead positions until `compact`)."""
        self._frame = None
        for position in self._positions.pop(id(request), ()):
            entry = self.entries[position]
            self.dead.add(position)
            self._dead_in["org", None] += 1
            self._dead_in["theme", entry.theme] += 1
            self._dead_in["sub_theme", entry.sub_theme] += 1
        self._indexed.pop(id(request), None)  # its id() may be reused once it is freed

    def live_size(self, scope: str, place: str | None) -> int:
        """How many texts a scope offers (dead ones not counted)."""
        if scope == "org":
            size = len(self.entries)
        else:
            size = len((self.by_theme if scope == "theme" else self.by_sub_theme).get(place, ()))
        return size - self._dead_in[scope, place]

    def compact(self) -> None:
        """Remove dropped texts; the others keep their relative order (so every search is unchanged)."""
        if not self.dead:
            return
        entries, dead = self.entries, self.dead
        self.entries, self.texts, self.orders, self.dead, self._dead_in = [], [], [], set(), Counter()
        self._by_order, self._sub_ids, self._sub_numbers, self._arrays, self._frame = [], [], {}, {}, None
        self._scored = OrderedDict()
        self.by_theme, self.by_sub_theme = defaultdict(list), defaultdict(list)
        self._indexed, self._postings, self._positions = defaultdict(set), defaultdict(list), defaultdict(list)
        for position, entry in enumerate(entries):
            if position not in dead:
                self._append(entry.text, entry.request, entry.theme, entry.sub_theme)

    def copy(self, clones: Mapping[int, RequestState]) -> CandidateIndex:
        """A copy of the index whose texts point to `clones` (by id() of the requests here, which
        must all be there) instead of the requests, to be changed apart from this one. The score
        caches stay behind (they can hold many arrays the size of the index; a copy scores what
        it needs again)."""
        memo: dict[int, object] = {**clones, id(self._scored): OrderedDict(), id(self._arrays): {}}
        copied = copy.deepcopy(self, memo)
        # Per-request maps are keyed by id() of the request: re-keyed to the clones'.
        copied._indexed = defaultdict(set, {id(clones[k]): v for k, v in copied._indexed.items()})
        copied._positions = defaultdict(list, {id(clones[k]): v for k, v in copied._positions.items()})
        return copied

    def _order(self, position: int) -> tuple[str, str]:
        """A tie-break of equal scores that depends on the texts, not on when they were indexed
        (positions differ between a run that built the index and one that loaded it)."""
        return self.orders[position]

    def _frame_now(self) -> _Frame:
        """The position arrays of the index as it stands (built again after a change)."""
        if self._frame is None:
            size = len(self.entries)
            rank = np.empty(size, dtype=np.int64)
            rank[np.array(self._by_order, dtype=np.int64)] = np.arange(size, dtype=np.int64)
            dead = np.zeros(size, dtype=bool)
            if self.dead:
                dead[np.fromiter(self.dead, dtype=np.int64, count=len(self.dead))] = True
            self._frame = _Frame(rank, dead, np.array(self._sub_ids, dtype=np.int64))
        return self._frame

    def _postings_array(self, key: tuple[str, str | None, str]) -> np.ndarray:
        found = self._arrays.get(key)
        if found is None:
            found = self._arrays[key] = np.array(self._postings[key], dtype=np.int64)
        return found

    def _pool(
        self, query: str, scope: str, place: str | None, scope_size: int, left_out: tuple[str | None, ...] = ()
    ) -> np.ndarray:
        """Positions of the scope's texts sharing a selective word with `query`, most words shared
        first (ties by `_order`), at most `SHORTLIST`. A word in more than `COMMON_WORD_SHARE` of
        the scope's texts selects nothing (unless the query has no other word), so the pool stays a
        small part of a large scope. Texts of the sub-themes `left_out` are left out.
        """
        common = max(SHORTLIST, int(scope_size * COMMON_WORD_SHARE))
        postings = self._postings
        sizes = {
            key: len(found)
            for word in sorted(set(query.split()))
            if (found := postings.get(key := (scope, place, word)))
        }
        selective = [key for key, size in sizes.items() if size <= common] or sorted(sizes, key=sizes.__getitem__)[:1]
        if not selective:
            return _NO_POSITIONS
        frame = self._frame_now()
        if len(selective) == 1:
            positions = self._postings_array(selective[0])  # a position is in a list once: every count is 1
            shared = None
        else:
            # What `np.unique(..., return_counts=True)` gives (positions ascending, each with its
            # count), counted in one pass: positions are below the index's size.
            counts = np.bincount(
                np.concatenate([self._postings_array(key) for key in selective]), minlength=len(self.entries)
            )
            positions = np.flatnonzero(counts)
            shared = counts[positions]
        live = ~frame.dead[positions]
        for sub_theme in left_out:
            live &= frame.sub[positions] != self._sub_numbers.get(sub_theme, -1)
        positions = positions[live]
        # Most words shared first, then by text (not by index position): the rank of the tie-break
        # is unique per position, so this is the order of (-shared, _order).
        order = frame.rank[positions]
        if shared is not None:
            order = order - shared[live] * (len(self.entries) + 1)
        if len(positions) > SHORTLIST:
            positions = positions[np.argpartition(order, SHORTLIST - 1)[:SHORTLIST]]
        return positions  # the pool as a set: `_best` orders what it keeps

    def _scores(self, query: str, positions: np.ndarray) -> np.ndarray:
        """`fuzz.token_set_ratio(query, text)` of the texts at `positions` (`_SET_RATIOS`' scores),
        kept per position for the latest queries until the index is compacted."""
        known = self._scored.get(query)
        if known is None:
            known = self._scored[query] = np.full(len(self.entries), np.nan)
            if len(self._scored) > SCORED_QUERIES_PER_INDEX:
                self._scored.popitem(last=False)
        else:
            self._scored.move_to_end(query)
            if len(known) < len(self.entries):  # texts indexed since
                known = self._scored[query] = np.concatenate([known, np.full(len(self.entries) - len(known), np.nan)])
        found = known[positions]
        missing = np.isnan(found)
        if missing.any():
            unknown = positions[missing]
            texts = self.texts
            found[missing] = known[unknown] = _SET_RATIOS.scores(query, [texts[p] for p in unknown.tolist()])
        return found

    def _best(
        self,
        query: str,
        positions: Callable[[], Sequence[int]],
        pool: Callable[[], np.ndarray],
        scope_size: int,
        limit: int,
        cutoff: float = 0.0,
    ) -> list[tuple[int, float]]:
        """The best `limit` texts of a scope by token-set ratio: every text of a small scope (up
        to `SHORTLIST`); of a larger one, the `SHORTLIST` in `pool` sharing most words."""
        if scope_size <= 0 or limit <= 0:
            return []
        if scope_size <= SHORTLIST:
            dead = self.dead
            chosen = np.array([p for p in positions() if p not in dead], dtype=np.int64)
        else:
            chosen = pool()
        if not len(chosen):
            return []
        scores = self._scores(query, chosen)
        kept = scores >= cutoff
        chosen, scores = chosen[kept], scores[kept]
        # The best first, ties by text (not by index position: `_Frame.rank` orders as `_order`);
        # several texts of one request may rank.
        best = np.lexsort((self._frame_now().rank[chosen], -scores))[: limit * 3]
        return list(zip(chosen[best].tolist(), scores[best].tolist(), strict=True))

    def search(self, mention: MentionRecord, resolve: Callable[[RequestState], RequestState]) -> list[RequestState]:
        """Candidate requests for `mention`, the most promising first, each once."""
        query = normalise_title(mention.title)
        chosen: list[RequestState] = []
        seen: set[int] = set()

        def take(hits: list[tuple[int, float]], limit: int) -> None:
            # `_best` gives its hits best first, ties by `_order` (a total order: a request's texts
            # differ, request keys differ), exactly as sorting by (-score, `_order`) would.
            taken = 0
            for position, _ in hits:
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
            sub_size = self.live_size("sub_theme", mention.sub_theme)
            take(
                self._best(
                    query,
                    lambda: sub,
                    lambda: self._pool(query, "sub_theme", mention.sub_theme, sub_size),
                    sub_size,
                    SAME_SUB_THEME_CANDIDATES,
                ),
                SAME_SUB_THEME_CANDIDATES,
            )
        everything = range(len(entries))
        if mention.theme is not None:
            theme = self.by_theme.get(mention.theme, [])
            theme_size = self.live_size("theme", mention.theme)

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
                    lambda: self._pool(query, "theme", mention.theme, theme_size, (mention.sub_theme,)),
                    theme_size,
                    SAME_THEME_CANDIDATES,
                ),
                SAME_THEME_CANDIDATES,
            )

        org_size = self.live_size("org", None)

        def org_pool() -> np.ndarray:
            return self._pool(query, "org", None, org_size)

        if mention.theme is not None:
            take(
                self._best(query, lambda: everything, org_pool, org_size, ORG_CANDIDATES, ORG_MIN_SCORE),
                ORG_CANDIDATES,
            )
        else:  # unplaced: the org's most similar requests
            take(
                self._best(query, lambda: everything, org_pool, org_size, SAME_SUB_THEME_CANDIDATES),
                SAME_SUB_THEME_CANDIDATES,
            )
        return chosen


def _candidate(
    request: RequestState, mention: MentionRecord, wordings: tuple[str, ...] | None = None
) -> MatchCandidate:
    """How `request` is shown to `mention` (`wordings`: `_wordings(request)`, if known)."""
    title = normalise_title(mention.title)
    own, *normal = wordings if wordings is not None else _wordings(request)
    kept = [i for i, n in enumerate(normal) if n != own]
    if len(kept) > 1:
        scores = _SET_RATIOS.scores(title, [normal[i] for i in kept])
        order = sorted(range(len(kept)), key=lambda i: -scores[i])  # stable: ties keep their order
        kept = [kept[i] for i in order]
    kept = kept[:MAX_EXAMPLES]
    shown = [request.examples[i] for i in kept]
    # The shown members' descriptions too: what a complaint is about is often said only there.
    described = [request.described.get(normal[i], "")[:DESCRIPTION_CHARS] for i in kept]
    return MatchCandidate(
        id=request.key,
        title=request.title,
        description=" ".join([request.description[:DESCRIPTION_CHARS], *(d for d in described if d)]),
        theme=request.theme,
        sub_theme=request.sub_theme,
        examples=tuple(shown),
    )


# `fuzz.ratio` below this cannot reach `TITLE_MATCH`: texts under it are not scored one by one
# (a little below 90, so that rounding at the threshold can never leave a text out).
_NEAR_CUTOFF = 100.0 * TITLE_MATCH - 1.0


def _wordings(request: RequestState) -> tuple[str, ...]:
    """A request's title and member titles, normalised."""
    return tuple(normalise_title(text) for text in [request.title, *request.examples])


def _near_identical(
    mention: MentionRecord,
    candidates: list[RequestState],
    wordings: Callable[[RequestState], tuple[str, ...]] = _wordings,
) -> tuple[RequestState, float] | None:
    title = normalise_title(mention.title)
    owners: list[RequestState] = []
    texts: list[str] = []
    for request in candidates:
        own = wordings(request)
        owners += [request] * len(own)
        texts += own
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

    def __init__(
        self, requests: Iterable[RequestState], matcher: BatchMatcher, predict: Predictor | None = None
    ) -> None:
        self.matcher = matcher
        # With a predictor, each round asks the questions the next mentions will face if the
        # predicted answers come true (`_foresee`); without, what they face as the catalogue stands.
        self.predict = predict
        self.indexes: dict[int, CandidateIndex] = defaultdict(CandidateIndex)
        # id() of a request merged into another -> that one. A merged request stays referenced
        # (`touched`, `created` or `merges`) until the run ends, so its id() is never reused while
        # this map holds it.
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
        # The matcher's answers of this run by match key (None: asked, no answer).
        self.answers: MutableMapping[str, CatalogMatch | None] = {}
        # Per org, a count of the changes that can alter what a mention faces (a request founded,
        # a wording added, a merge), and what was computed at that count (`_Asked`): still exact
        # while the count stands, and shared by every mention worded the same (popular wordings
        # recur, and a grown catalogue rarely changes).
        self._version: dict[int, int] = defaultdict(int)
        self._asked: dict[int, _Asked] = {}
        # How a request is shown to a mention's title, kept across versions (`_Asked.candidate`).
        self._views: dict[tuple[int, int, str], tuple[RequestState, MatchCandidate]] = {}
        self.rounds = 0  # look-ahead rounds (batched matcher calls) this run
        self.asked = 0  # questions put to the matcher this run (some asked ahead in vain)
        # While a chunk's organisations link concurrently: per org, the changes to `touched`,
        # `created` and `merges` in its own order, applied org by org once all are done, so their
        # order (ids are assigned and rows written in it) is a sequential pass's, whatever the
        # interleaving. None: applied at once.
        self._pending: dict[int, list[Callable[[], None]]] | None = None

    def _effect(self, org_id: int, effect: Callable[[], None]) -> None:
        """Apply `effect` on the run's output now, or log it for `org_id` while orgs link concurrently."""
        if self._pending is None:
            effect()
        else:
            self._pending[org_id].append(effect)

    def _touch(self, request: RequestState) -> None:
        self._effect(request.org_id, lambda: self.touched.__setitem__(id(request), request))

    def _untouch(self, request: RequestState) -> None:
        self.touched.pop(id(request), None)

    def _resolve(self, request: RequestState) -> RequestState:
        while id(request) in self._merged:
            request = self._merged[id(request)]
        return request

    def _link(self, request: RequestState, mention: MentionRecord, method: str, score: float) -> None:
        request.links.append((mention, method, round(score, 4)))
        self._add_wording(request, mention.title, mention.description)
        self._touch(request)
        self.methods[method] += 1

    def _add_wording(self, request: RequestState, wording: str, description: str) -> None:
        wordings = {normalise_title(text) for text in [request.title, *request.examples]}
        normal = normalise_title(wording)
        if normal not in wordings and len(request.examples) < MAX_MEMBER_WORDINGS:
            # Searchable under this wording from now on (the next mention may be worded like it).
            request.examples.append(wording)
            if description:
                request.described[normal] = description
            self._version[request.org_id] += 1
            self.indexes[request.org_id].add_wording(request, wording)

    def pin(self, mention: MentionRecord, request: RequestState) -> None:
        """Place `mention` where a person put it (never judged)."""
        self._link(request, mention, METHOD_PINNED, 1.0)

    async def link(self, mentions: Sequence[MentionRecord]) -> LinkResult:
        """Link `mentions` (any order in; canonical order used) and report what changed.

        The result is that of linking the mentions one at a time in canonical order, whatever
        the chunks, look-ahead windows or runs they arrive in: the matcher is asked ahead in
        batches, and an answer is used only when the question it answered is exactly the one
        the mention faces once every earlier mention is placed.
        """
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
        self._version[winner.org_id] += 1
        winner.links += loser.links
        loser.links = []
        # The loser's texts go; the winner is searchable by its wordings within its own cap, as a
        # request loaded from the warehouse after this run would be.
        self.indexes[loser.org_id].drop(loser)
        self._add_wording(winner, loser.title, loser.description)
        for wording in loser.examples:
            self._add_wording(winner, wording, loser.described.get(normalise_title(wording), ""))
        self._touch(winner)
        self._effect(loser.org_id, lambda: self._untouch(loser))
        if loser.id is not None:
            self._effect(loser.org_id, lambda: self.merges.append((loser, winner)))

    def _question(self, mention: MentionRecord) -> _Question:
        """What `mention` faces in the catalogue as it stands: a near-identical title, a match
        input for the matcher, or nothing to compare with."""
        version = self._version[mention.org_id]
        asked = self._asked.get(mention.org_id)
        if asked is None or asked.version != version or len(asked.questions) >= REMEMBERED_QUESTIONS:
            asked = self._asked[mention.org_id] = _Asked(version, self._views)
        signature = (mention.title, mention.description, mention.quote, mention.kind, mention.theme, mention.sub_theme)
        question = asked.questions.get(signature)
        if question is None:
            question = asked.questions[signature] = self._compute_question(mention, asked)
        return question

    def _compute_question(self, mention: MentionRecord, asked: _Asked) -> _Question:
        """The question of `mention` (`asked`: what the org's catalogue as it stands gave before)."""
        place = (mention.title, mention.theme, mention.sub_theme)
        found = asked.searches.get(place)
        if found is None:
            # The search, the near-identical title and the candidates depend on these three only.
            candidates = self.indexes[mention.org_id].search(mention, self._resolve)
            near = _near_identical(mention, candidates, asked.wordings)
            shown = () if near is not None else tuple(asked.candidate(request, mention) for request in candidates)
            found = asked.searches[place] = (candidates, near, shown)
        candidates, near, shown = found
        if near is not None or not candidates:
            return _Question(near=near)
        item = MatchInput(
            title=mention.title,
            description=mention.description,
            sub_theme=mention.sub_theme,
            candidates=shown,
            theme=mention.theme,
            quote=mention.quote,
            kind=mention.kind,
        )
        return _Question(key=match_key(item), item=item, by_key={request.key: request for request in candidates})

    async def _ask_ahead(self, window: Sequence[MentionRecord]) -> None:
        """Ask the matcher, in one batch, what each mention of `window` faces in the catalogue as it
        stands: exactly its question when the earlier ones of the window change nothing it sees
        (they join requests it is not offered, or in words those requests already hold), the usual
        case in a grown catalogue. (Asking as if each earlier one founded a request, as a new
        catalogue mostly does, asked more questions in vain: docs/quality.md.)"""
        asked: dict[str, MatchInput] = {}
        for mention in window:
            question = self._question(mention)
            if question.key is not None and question.item is not None and question.key not in self.answers:
                asked[question.key] = question.item
        await self._ask(asked)

    async def _ask(self, asked: Mapping[str, MatchInput]) -> None:
        """Put `asked` to the matcher in one round and keep its answers."""
        if asked:
            self.rounds += 1
            self.asked += len(asked)
            answers = await self.matcher(asked)
            for key in asked:
                raw = answers.get(key)
                self.answers[key] = None if raw is None else _as_match(raw)

    def _foresee(self, mentions: Sequence[MentionRecord], predict: Predictor, budget: int) -> dict[str, MatchInput]:
        """The questions `mentions` (one org's, the next to place) will face if `predict` guesses
        the matcher's answers right: their placements played on a copy of the org's catalogue, up to
        `budget` questions not answered yet. The first is always the first mention's
        exact question; each later one is exact as long as the guesses before it were, so on a
        young catalogue, where nearly every placement changes what the next mentions face, a
        round settles many mentions instead of a few. A wrong guess costs only the questions after
        it, asked in vain: placement still uses an answer only for the exact question."""
        shadow = self._copy_org(mentions[0].org_id)
        guessed: dict[str, CatalogMatch | None] = {}
        shadow.answers = ChainMap(guessed, self.answers)
        asked: dict[str, MatchInput] = {}
        for mention in mentions:
            question = shadow._question(mention)
            key, item = question.key, question.item
            if key is not None and item is not None and key not in self.answers:
                if key not in asked:
                    if len(asked) >= budget:
                        break
                    asked[key] = item
                if key not in guessed:
                    guessed[key] = _as_match(predict(item))
            shadow._place(mention, question)
        return asked

    def _copy_org(self, org_id: int) -> Linker:
        """A linker holding a copy of `org_id`'s catalogue as it stands (index, requests, merges),
        whose placements change nothing here and log no output."""
        index = self.indexes[org_id]
        requests = {id(entry.request): entry.request for entry in index.entries}
        requests.update((id(r), r) for (org, _), r in self.by_key.items() if org == org_id)
        requests.update((id(r), r) for r in self._merged.values() if r.org_id == org_id)
        memo: dict[int, RequestState] = {}
        for request in requests.values():
            # Mentions are immutable: the lists holding them are copied, not the mentions.
            memo[id(request)] = clone = copy.copy(request)
            clone.examples, clone.described, clone.links = (
                list(request.examples),
                dict(request.described),
                list(request.links),
            )
        shadow = Linker([], self.matcher)
        shadow.indexes[org_id] = index.copy(memo)
        shadow.by_key = {k: memo[id(r)] for k, r in self.by_key.items() if k[0] == org_id}
        shadow._merged = {
            id(memo[loser]): memo[id(winner)]
            for loser, winner in self._merged.items()
            if loser in memo and id(winner) in memo
        }
        shadow._version[org_id] = self._version[org_id]
        shadow._pending = {org_id: []}  # its output effects are logged, never applied
        return shadow

    def _place(self, mention: MentionRecord, question: _Question) -> None:
        """Link `mention` where the answer to `question` puts it (or found a request)."""
        target: RequestState | None = None
        also: list[RequestState] = []
        method, score = METHOD_AI, 0.0
        if question.near is not None:
            target, method, score = question.near[0], METHOD_TITLE, question.near[1]
        elif question.key is not None:
            answer = self.answers.get(question.key)
            if answer is None:
                self.failures += 1
            else:
                score = answer.score
                if answer.candidate_id in question.by_key and score >= AI_MATCH:
                    target = question.by_key[answer.candidate_id]
                    also = [question.by_key[c] for c in answer.also_same if c in question.by_key]
        if target is None:
            founded = new_request(mention)
            returning = self.by_key.get((founded.org_id, founded.key))
            if returning is not None:
                self._link(self._resolve(returning), mention, METHOD_TITLE, 1.0)
                return
            founded.links.clear()
            self.indexes[mention.org_id].add(founded)
            self._version[mention.org_id] += 1
            self._link(founded, mention, METHOD_NEW, 1.0)
            self._effect(founded.org_id, lambda: self.created.__setitem__(id(founded), founded))
            return
        target = self._resolve(target)
        self._link(target, mention, method, score)
        for other in also:  # this mention bridges requests kept apart: one ask
            if self._resolve(other).theme == target.theme:  # across themes: people decide
                self._merge(target, other)

    async def _link_chunk(self, chunk: list[MentionRecord]) -> None:
        """Link a chunk, each organisation's mentions concurrently with the others'.

        An organisation's mentions never change what another's face (candidates, requests, merges
        and versions are all per org), so their ask-ahead rounds can be in flight together; each
        org's mentions are still placed one at a time in canonical order, and the run's output
        lists are filled org by org, as a sequential pass fills them.
        """
        by_org: dict[int, list[MentionRecord]] = {}
        for mention in chunk:
            by_org.setdefault(mention.org_id, []).append(mention)
        self._pending = {org_id: [] for org_id in by_org}
        try:
            async with asyncio.TaskGroup() as group:
                for mentions in by_org.values():
                    group.create_task(self._link_org(mentions))
        finally:
            pending, self._pending = self._pending, None
        for org_id in sorted(pending):  # the chunk is sorted by org: a sequential pass's order
            for effect in pending[org_id]:
                effect()

    async def _link_org(self, mentions: list[MentionRecord]) -> None:
        """Place one organisation's mentions (canonical order) of a chunk, asking ahead in rounds."""
        start, window, guesses = 0, LOOKAHEAD, LOOKAHEAD
        while start < len(mentions):
            foreseen: Mapping[str, MatchInput] = {}
            if self.predict is not None:
                foreseen = self._foresee(mentions[start:], self.predict, guesses)
                await self._ask(foreseen)
            else:
                await self._ask_ahead(mentions[start : start + window])
            placed, used = 0, set()
            for mention in mentions[start:]:
                question = self._question(mention)
                if question.key is not None and question.key not in self.answers:
                    if placed == 0:  # cannot happen: the first question asked ahead is this one
                        await self._ask_ahead([mention])
                    else:
                        break  # an earlier placement changed what it faces: ask again from here
                if question.key in foreseen:
                    used.add(question.key)
                self._place(mention, question)
                placed += 1
            start += placed
            # Ask as far ahead as the last round held up (at least a few), so a run where each
            # placement changes the next question (or where guesses go wrong) does not ask many
            # questions in vain.
            window = max(LOOKAHEAD_MIN, min(LOOKAHEAD, 2 * placed))
            guesses = max(GUESSED_MIN, min(GUESSED_MAX, 2 * len(used)))
        if mentions:
            self.indexes[mentions[0].org_id].compact()


@dataclass
class _Asked:
    """What one org's catalogue, as it stood at `version`, gave the mentions asked about so far.

    A question depends on the catalogue and, of the mention, only on its title, description,
    quote, kind, theme and sub-theme (`questions`); its candidates and near-identical title only
    on the title, theme and sub-theme (`searches`).
    """

    version: int
    # The linker's candidate views, shared by every version (`candidate`).
    views: dict[tuple[int, int, str], tuple[RequestState, MatchCandidate]] = field(default_factory=dict)
    questions: dict[tuple[str, str, str, str, str | None, str | None], _Question] = field(default_factory=dict)
    searches: dict[
        tuple[str, str | None, str | None],
        tuple[list[RequestState], tuple[RequestState, float] | None, tuple[MatchCandidate, ...]],
    ] = field(default_factory=dict)
    # By id() of a request (each stays referenced while the linker runs): its normalised wordings.
    _wordings: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def wordings(self, request: RequestState) -> tuple[str, ...]:
        """`_wordings(request)`, as the catalogue stands."""
        found = self._wordings.get(id(request))
        if found is None:
            found = self._wordings[id(request)] = _wordings(request)
        return found

    def candidate(self, request: RequestState, mention: MentionRecord) -> MatchCandidate:
        """`_candidate(request, mention)`, as the catalogue stands. It reads the mention's title and,
        of the request, what a run changes only by appending member wordings (with their
        descriptions): so it stands while the number of wordings does, whatever else changed.
        The view holds its request, so that the request's id() is not reused while it is kept."""
        key = (id(request), len(request.examples), mention.title)
        found = self.views.get(key)
        if found is None:
            if len(self.views) >= REMEMBERED_VIEWS:
                del self.views[next(iter(self.views))]  # the oldest
            found = self.views[key] = (request, _candidate(request, mention, self.wordings(request)))
        return found[1]


@dataclass
class _Question:
    """What a mention faces: a near-identical title, or a match input (its key and candidates)."""

    near: tuple[RequestState, float] | None = None
    key: str | None = None
    item: MatchInput | None = None
    by_key: dict[str, RequestState] = field(default_factory=dict)


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
