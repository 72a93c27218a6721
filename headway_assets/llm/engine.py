"""Running AI tasks cheaply: cache first, batch short items, bound concurrency, validate, trace.

The engine is provider-agnostic. It never pays twice for the same work (answers are cached
by task, prompt version, model and content hash, and written as soon as each call returns,
so a run that dies keeps what it bought), and it never leaves an item without an outcome:
every item ends answered, failed with a status and reason, or explicitly not attempted
because the run's deadline passed or the provider stayed unavailable.

Provider outages (429, 5xx, timeouts that outlast the SDK's own retries) are not the items'
fault. With `outage_patience_seconds` set (the pipeline sets it), the engine waits an outage
out, honouring retry-after, for up to that long since the provider last answered; past that it
stops starting calls, and the items it could not ask stay pending for the next run instead of
being recorded as failed (failures count towards giving up on an item, outages must not).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from headway_assets.core.retry import RetryBudget, RetryPolicy
from headway_assets.llm.cache import CachedAnswer, CacheKey, LlmCache
from headway_assets.llm.pricing import ModelPrice, estimate_cost, price_list
from headway_assets.llm.providers.base import (
    LlmError,
    LlmProvider,
    LlmRequest,
    LlmResponse,
    LlmUnavailableError,
    TokenUsage,
)
from headway_assets.llm.redaction import PrivacyGuard
from headway_assets.llm.schemas import (
    CallInsightBatch,
    CallInsightDraft,
    CatalogMatch,
    InsightBatch,
    InsightDraft,
    MatchBatch,
    MentionBatch,
    MentionExtraction,
    Tier1Batch,
    Tier1Label,
)
from headway_assets.llm.tasks import (
    CALL,
    INSIGHT,
    MATCH,
    PROMPT_VERSIONS,
    TIER1,
    TIER2,
    CallInput,
    InsightInput,
    MatchInput,
    Tier1Input,
    Tier2Input,
    call_request,
    insight_request,
    match_request,
    tier1_request,
    tier2_request,
)
from headway_assets.llm.tracing import get_tracer, llm_span, traces_exported

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
# Fewest items per slice: small configurations still commit in reasonable steps.
MIN_SLICE_ITEMS = 100
# Items per call by default (the pipeline's settings say the same): tier-1 items are short; tier-2
# answers are long, so fewer; an insight is one sentence and a few topics; a match is an id and a
# score, each ask bringing its own candidates; a call's assessment is the longest answer (levels,
# reasons with quotes, next steps) and its input a capped excerpt, so a few calls share a request.
DEFAULT_BATCH_ITEMS: dict[str, int] = {TIER1: 100, TIER2: 24, INSIGHT: 40, MATCH: 20, CALL: 8}
ProgressCallback = Callable[[str, int, int], None]
# Answers of an in-process provider written to the cache in one transaction (`writing_behind`).
WRITE_BEHIND_ANSWERS = 2000
# Given a packed call (task, request, {item id in the prompt: item key}), True when it was taken for a
# vendor batch (llm/batches.py) instead of being sent now: its items then stay pending this run.
CallDeferral = Callable[[str, LlmRequest, dict[str, str]], bool]


@dataclass(frozen=True)
class LlmFailure:
    """An item that got no usable answer: `status` is recorded, `error` says why."""

    status: str
    error: str


class DeadlineReachedError(Exception):
    """The run's deadline passed before this call started; its items stay pending."""


class ProviderUnavailableError(Exception):
    """The provider stayed unavailable longer than the run's patience; the items stay pending."""


# Longest single wait of the engine between asks while the provider is down (the SDK's own retries
# of the next ask still honour a longer retry-after); short, so a run resumes soon after an outage.
MAX_OUTAGE_BACKOFF_SECONDS = 10.0
# Waits between asks during an outage: the vendors' one policy (1 s doubling, jittered, capped);
# the patience, not a retry count, ends the waiting, so its budget is never spent.
OUTAGE_WAITS = RetryPolicy(
    budget=RetryBudget(0),
    base_seconds=1.0,
    max_backoff_seconds=MAX_OUTAGE_BACKOFF_SECONDS,
    max_wait_seconds=MAX_OUTAGE_BACKOFF_SECONDS,
)


@dataclass
class TaskStats:
    """What one task cost in one run."""

    calls: int = 0
    cache_hits: int = 0
    items_answered: int = 0
    items_failed: int = 0
    items_not_attempted: int = 0
    retries: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    seconds_in_calls: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        """Plain numbers for asset metadata."""
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "answered": self.items_answered,
            "failed": self.items_failed,
            "not_attempted": self.items_not_attempted,
            "validation_retries": self.retries,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_read_tokens": self.usage.cache_read_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


def _cut(
    items: Iterable[T],
    size: Callable[[T], int],
    max_items: int,
    max_chars: int,
    shared: Callable[[T], Iterable[tuple[Hashable, int]]] | None = None,
    weight: Callable[[T], int] | None = None,
) -> Iterator[list[T]]:
    """`items` in order, cut into runs of at most `max_items` and `max_chars` (an item larger than
    `max_chars` goes alone). `shared` gives parts an item brings that a call writes once however
    many of its items bring them (key, characters): they count once per run. `weight` gives how
    many of the `max_items` an item takes (default one)."""
    current: list[T] = []
    chars = 0
    count = 0
    seen: set[Hashable] = set()
    for item in items:
        parts = list(shared(item)) if shared else []
        length = size(item) + sum(n for key, n in parts if key not in seen)
        units = weight(item) if weight else 1
        if current and (count + units > max_items or chars + length > max_chars):
            yield current
            current, chars, count, seen = [], 0, 0, set()
            length = size(item) + sum(n for _key, n in parts)
        current.append(item)
        chars += length
        count += units
        seen.update(key for key, _n in parts)
    if current:
        yield current


@dataclass
class _Unwritten:
    """Answers an engine (and its `for_model` siblings) holds back from the cache while `open`."""

    answers: dict[CacheKey, dict[str, CachedAnswer]] = field(default_factory=dict)
    open: bool = True


@dataclass(frozen=True)
class EngineConfig:
    """Knobs the data team tunes cost and speed with."""

    models: Mapping[str, str]
    max_in_flight: int = 16
    # Items per call, per task, and characters of input per call.
    batch_items: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_BATCH_ITEMS))
    batch_chars: int = 160_000
    # Attempts per call when the answer is malformed or off-schema (transport errors are
    # retried inside the SDK, honouring retry-after).
    validation_attempts: int = 2
    # How long a run waits out a provider outage (seconds since the provider last answered)
    # before it stops resumably. None: an outage that outlasts the SDK's retries fails the
    # items at once (what one-off commands such as `headway classify` want).
    outage_patience_seconds: float | None = None


class LlmEngine:
    """Runs the AI tasks for one Dagster run (or one CLI command)."""

    def __init__(
        self,
        provider: LlmProvider,
        config: EngineConfig,
        cache: LlmCache | None = None,
        *,
        deadline: float | None = None,
        prices: dict[str, ModelPrice] | None = None,
        progress: ProgressCallback | None = None,
        budget_usd: float | None = None,
    ) -> None:
        self.provider = provider
        self.config = config
        self.cache = cache
        self.deadline = deadline
        # Spend (list prices) after which the run starts no more work; None or 0 means no limit.
        self.budget_usd = budget_usd or None
        self.stats: dict[str, TaskStats] = {}
        self._prices = prices if prices is not None else price_list()
        self._semaphore = asyncio.Semaphore(config.max_in_flight)
        self._tracer = get_tracer()
        # The prompt's JSON goes into the call's span only for an exporter to send: built only then.
        self._prompts_traced = traces_exported()
        self._progress = progress
        # Redacts every item before it becomes a request (assets register whose each text is).
        self.privacy = PrivacyGuard()
        # Outage bookkeeping: when the provider first failed since it last answered, and why
        # the run stopped asking once it stayed down past the patience.
        self._unavailable_since: float | None = None
        self.unavailable_reason: str | None = None
        # Items being asked right now, per (task, content hash): concurrent calls of this engine
        # (the next slice asking while one is written) wait for these instead of paying twice.
        self._asking: dict[tuple[str, str], asyncio.Future[Any]] = {}
        # Set by the batch path (llm/batches.py): packed calls it takes are not sent live.
        self.deferral: CallDeferral | None = None
        # Answers of an in-process provider not written to the cache yet (`writing_behind`).
        self._unwritten: _Unwritten | None = None

    # -- bookkeeping -------------------------------------------------------------------------

    def model(self, task: str) -> str:
        """The model configured for `task`."""
        return self.config.models[task]

    def for_model(self, task: str, model: str) -> LlmEngine:
        """This engine asking `model` for `task` (an organisation's own tier-1 model): the same
        provider, cache, deadline, budget, privacy guard and running totals, and its own list of
        items being asked, so that one model's answer never stands in for another's. The model is
        part of the cache key, as with the configured one. Outage bookkeeping is its own too (the
        local models it serves have no outages)."""
        if model == self.model(task):
            return self
        sibling = copy.copy(self)
        sibling.config = replace(self.config, models={**self.config.models, task: model})
        sibling._asking = {}
        return sibling

    def cost_usd(self) -> float:
        """What this engine's calls cost so far, at list prices, over every task."""
        return sum(stats.cost_usd for stats in self.stats.values())

    def task_stats(self, task: str) -> TaskStats:
        """Running totals of `task` in this engine."""
        return self.stats.setdefault(task, TaskStats())

    def slices(
        self,
        task: str,
        items: Sequence[T],
        size: Callable[[T], int] | None = None,
        weight: Callable[[T], int] | None = None,
    ) -> Iterator[list[T]]:
        """`items` in slices that each fill every call slot once, by item count and by characters.

        Assets commit after each slice; a slice smaller than this would leave slots idle and turn
        one wave of calls into several, a larger one would make the last wave of each slice a
        straggler. `size` gives an item's characters (the batches' other budget); without it
        slices are cut by count alone. `weight` gives how many call items an item becomes (a long
        message: its chunks), so that a slice's calls fit one wave; it applies once a wave holds
        more than `MIN_SLICE_ITEMS` items (below that, slices are `MIN_SLICE_ITEMS` items anyway).
        """
        per_wave = self.config.max_in_flight * self._items_per_call(task)
        max_chars = self.config.max_in_flight * self.config.batch_chars
        if per_wave <= MIN_SLICE_ITEMS:
            weight = None
        yield from _cut(items, size or (lambda _item: 0), max(MIN_SLICE_ITEMS, per_wave), max_chars, weight=weight)

    def _items_per_call(self, task: str) -> int:
        return self.config.batch_items.get(task, 1) if self.provider.supports_batching else 1

    def deadline_passed(self) -> bool:
        """True once the run's deadline (monotonic clock) is behind us."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def stop_reason(self) -> str | None:
        """Why this run should start no more work (deadline, spent budget, provider unavailable), or None."""
        if self.deadline_passed():
            return "the run deadline passed"
        if self.budget_usd is not None and self.cost_usd() >= self.budget_usd:
            return f"the run's LLM budget of ${self.budget_usd:g} is spent (${self.cost_usd():.4f})"
        if self.unavailable_reason is not None:
            return f"the provider stayed unavailable ({self.unavailable_reason})"
        return None

    async def _wait_out_outage(self, error: LlmUnavailableError, waits: int) -> None:
        """Sleep before asking again while the provider is down, or raise `ProviderUnavailableError`
        once it has been down for longer than the patience (`DeadlineReachedError` past the deadline)."""
        patience = self.config.outage_patience_seconds
        now = time.monotonic()
        if self._unavailable_since is None:
            self._unavailable_since = now
        left = (patience or 0.0) - (now - self._unavailable_since)
        if self.unavailable_reason is None and left <= 0:
            self.unavailable_reason = str(error)
        if self.unavailable_reason is not None:
            raise ProviderUnavailableError(self.unavailable_reason)
        # Honour retry-after when given, else back off exponentially; never past the patience
        # (one more ask at its end decides) or the run's deadline.
        delay = OUTAGE_WAITS.wait(waits, error.retry_after)
        delay = min(max(delay, 0.5), MAX_OUTAGE_BACKOFF_SECONDS, left + 0.1)
        if self.deadline is not None and now + delay >= self.deadline:
            raise DeadlineReachedError()
        await asyncio.sleep(delay)

    @contextlib.contextmanager
    def writing_behind(self) -> Iterator[None]:
        """Within this block, an in-process provider's answers (nothing bought: a run that dies
        computes them again) go to the cache `WRITE_BEHIND_ANSWERS` at a time and at the block's
        end, not one transaction per call; the engine reads its unwritten answers as cached ones.
        A remote provider's answers are still written as soon as each call returns."""
        if not self.provider.in_process or self.cache is None or self._unwritten is not None:
            yield
            return
        unwritten = self._unwritten = _Unwritten()
        try:
            yield
        finally:
            self._write_behind(force=True)
            unwritten.open = False  # shared with `for_model` siblings: they write at once again
            self._unwritten = None

    def _write_behind(self, *, force: bool = False) -> None:
        """Write the unwritten answers once there are `WRITE_BEHIND_ANSWERS` of them (or `force`)."""
        unwritten = self._unwritten
        if unwritten is None or self.cache is None:
            return
        if force or sum(map(len, unwritten.answers.values())) >= WRITE_BEHIND_ANSWERS:
            for key, answers in unwritten.answers.items():
                self.cache.put_many(key, answers)
            unwritten.answers.clear()

    def _cached(self, key: CacheKey, hashes: Iterable[str]) -> dict[str, CachedAnswer]:
        """Cached answers of `hashes` under `key`: the cache's, and this run's not written yet."""
        if self.cache is None:
            return {}
        hashes = list(hashes)
        unwritten = self._unwritten.answers.get(key, {}) if self._unwritten is not None else {}
        found = {h: unwritten[h] for h in hashes if h in unwritten}
        rest = [h for h in hashes if h not in found]
        if rest:
            found.update(self.cache.get_many(key, rest))
        return found

    def _cache_key(self, task: str) -> CacheKey:
        return CacheKey(task=task, prompt_version=PROMPT_VERSIONS[task], model=self.model(task))

    def _record_usage(self, task: str, usage: TokenUsage, model: str) -> None:
        stats = self.task_stats(task)
        stats.usage.add(usage)
        stats.cost_usd += estimate_cost(model, usage, self._prices)

    # -- one call ----------------------------------------------------------------------------

    async def _call(self, request: LlmRequest) -> LlmResponse:
        """One traced provider call with validation retries, inside the concurrency bound; with an
        outage patience, an unavailable provider is waited out (holding the call's slot, so a
        down provider is not flooded with the rest of the run's calls)."""
        async with self._semaphore:
            waits = 0
            while True:
                if self.unavailable_reason is not None:
                    raise ProviderUnavailableError(self.unavailable_reason)
                try:
                    response = await self._call_once(request)
                except LlmUnavailableError as error:
                    if self.config.outage_patience_seconds is None:
                        raise
                    await self._wait_out_outage(error, waits)
                    waits += 1
                    continue
                self._unavailable_since = None  # the provider answers again
                return response

    async def _call_once(self, request: LlmRequest) -> LlmResponse:
        """One traced provider call with validation retries (the caller holds a concurrency slot)."""
        model = self.model(request.task)
        stats = self.task_stats(request.task)
        attempts = max(1, self.config.validation_attempts)
        for attempt in range(1, attempts + 1):
            if self.deadline_passed():
                raise DeadlineReachedError()
            with llm_span(
                self._tracer,
                provider=self.provider.name,
                model=model,
                task=request.task,
                prompt_version=request.prompt_version,
            ) as span:
                if self._prompts_traced:
                    prompt = json.dumps(
                        [
                            {"role": "system", "content": request.system},
                            {"role": "user", "content": request.user},
                        ],
                        ensure_ascii=False,
                    )
                    span.set_attribute("gen_ai.prompt", prompt)
                    span.set_attribute("langfuse.observation.input", prompt)
                started = time.monotonic()
                stats.calls += 1
                try:
                    response = await self.provider.generate(request, model)
                except LlmError as error:
                    elapsed = time.monotonic() - started
                    stats.seconds_in_calls += elapsed
                    self._record_usage(request.task, error.usage, model)
                    _annotate(span, error.usage, elapsed, error.completion_text, status=error.status)
                    span.set_status(_error_status(str(error)))
                    if error.retryable and attempt < attempts:
                        stats.retries += 1
                        continue
                    raise
                elapsed = time.monotonic() - started
                stats.seconds_in_calls += elapsed
                self._record_usage(request.task, response.usage, model)
                _annotate(span, response.usage, elapsed, response.completion_text, status="ok")
                span.set_attribute("gen_ai.response.model", response.model or model)
                span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason or "stop"])
                return response
        raise AssertionError("unreachable: the loop returns or raises")

    # -- batched tasks ------------------------------------------------------------------------

    async def label(self, items: Mapping[str, str]) -> dict[str, Tier1Label | LlmFailure]:
        """Tier-1 labels for texts keyed by content hash. Items left out of the result were not
        attempted (the deadline passed) and stay pending."""
        return await self._run_batched(_TIER1_SPEC, {key: Tier1Input(id="", text=text) for key, text in items.items()})

    async def extract(self, items: Mapping[str, Tier2Input]) -> dict[str, MentionExtraction | LlmFailure]:
        """Tier-2 mentions per item (keyed by a hash of text, context and taxonomy)."""
        return await self._run_batched(_TIER2_SPEC, items)

    async def summarise(self, items: Mapping[str, InsightInput]) -> dict[str, InsightDraft | LlmFailure]:
        """Per-message insights (keyed by a hash of the message and its asks)."""
        return await self._run_batched(_INSIGHT_SPEC, items)

    async def match(self, items: Mapping[str, MatchInput]) -> dict[str, CatalogMatch | LlmFailure]:
        """Catalogue matches (keyed by a hash of the mention and its candidates), many mentions per
        call, each judged against its own candidates. Pass all mentions of a run at once: the
        engine batches them (asks of one theme together, so shared candidates are written once)
        and runs the calls concurrently."""
        return await self._run_batched(_MATCH_SPEC, items)

    async def assess_calls(self, items: Mapping[str, CallInput]) -> dict[str, CallInsightDraft | LlmFailure]:
        """Call intelligence (deal and churn risk, expansion potential, next steps) per call, keyed by a
        hash of the call's text and context: several calls per request (`batch_items[CALL]`, within
        `batch_chars`), the requests concurrent."""
        return await self._run_batched(_CALL_SPEC, items)

    def _batches(self, spec: BatchSpec[Any], keys: Sequence[str], items: Mapping[str, Any]) -> list[list[str]]:
        """Group pending items into calls: same group key, within the item and character budgets."""
        max_items = self._items_per_call(spec.task)
        groups: dict[str, list[str]] = {}
        if spec.order is not None:
            order = spec.order
            keys = sorted(keys, key=lambda key: order(items[key]))
        for key in keys:
            groups.setdefault(spec.group_key(items[key]), []).append(key)
        shared = spec.shared
        parts = (lambda key: shared(items[key])) if shared is not None else None
        return [
            batch
            for group in groups.values()
            for batch in _cut(group, lambda key: spec.size(items[key]), max_items, self.config.batch_chars, parts)
        ]

    async def _run_batched(self, spec: BatchSpec[ModelT], items: Mapping[str, Any]) -> dict[str, ModelT | LlmFailure]:
        task = spec.task
        stats = self.task_stats(task)
        key = self._cache_key(task)
        results: dict[str, ModelT | LlmFailure] = {}
        cached = self._cached(key, items)
        for content_hash, answer in cached.items():
            results[content_hash] = spec.output.model_validate(answer.response)
        stats.cache_hits += len(cached)
        pending = [h for h in items if h not in results]
        # Items a concurrent call of this engine (the slice before, still asking) is asking already:
        # wait for its answers, as the cache would have given them had it finished first.
        shared = {h: self._asking[task, h] for h in pending if (task, h) in self._asking} if self.cache else {}
        own = [h for h in pending if h not in shared]
        await self._ask(spec, own, items, results)
        if shared:
            await asyncio.wait(shared.values())
            for content_hash, asked in shared.items():
                answer = asked.result()
                if isinstance(answer, spec.output):
                    results[content_hash] = answer
                    stats.cache_hits += 1
            # Failed there or not attempted: asked here, as a later call would after the cache missed.
            again = [h for h in shared if h not in results]
            await self._ask(spec, again, items, results)
            own += again
        stats.items_answered += sum(1 for h in own if isinstance(results.get(h), spec.output))
        stats.items_failed += sum(1 for h in own if isinstance(results.get(h), LlmFailure))
        stats.items_not_attempted += sum(1 for h in own if h not in results)
        return results

    async def _ask(
        self,
        spec: BatchSpec[ModelT],
        keys: list[str],
        items: Mapping[str, Any],
        results: dict[str, ModelT | LlmFailure],
    ) -> None:
        """Ask the provider about `keys` in concurrent batches, into `results`. While a batch is out,
        its items are listed in `_asking`, each with a future that gets its outcome (None: not
        attempted) as soon as the batch returns."""
        if not keys:
            return
        task = spec.task
        loop = asyncio.get_running_loop()
        asking: dict[str, asyncio.Future[Any]] = {}
        for content_hash in keys:
            asking[content_hash] = self._asking[task, content_hash] = loop.create_future()
        total = len(keys)
        done = 0

        def settle(batch: Iterable[str]) -> None:
            for content_hash in batch:
                future = asking[content_hash]
                if not future.done():
                    future.set_result(results.get(content_hash))
                if self._asking.get((task, content_hash)) is future:
                    del self._asking[task, content_hash]

        async def run_batch(batch: list[str]) -> None:
            nonlocal done
            try:
                results.update(await self._call_batch(spec, batch, items))
            finally:
                settle(batch)
            done += len(batch)
            if self._progress:
                self._progress(task, done, total)

        try:
            await _gather_all([run_batch(batch) for batch in self._batches(spec, keys, items)])
        finally:
            settle(keys)

    async def _call_batch(
        self, spec: BatchSpec[ModelT], keys: list[str], items: Mapping[str, Any]
    ) -> dict[str, ModelT | LlmFailure]:
        """Answer one batch; ids the answer left out get one more call of their own."""
        outcome: dict[str, ModelT | LlmFailure] = {}
        remaining = list(keys)
        for round_number in (1, 2):
            ids = [str(index) for index in range(len(remaining))]
            pairs = [(i, items[k]) for i, k in zip(ids, remaining, strict=True)]
            # Redacted before anything leaves: a live call, a vendor batch, a trace.
            request = spec.build(self.privacy.protect(spec.task, pairs))
            if (
                round_number == 1
                and self.deferral is not None
                and self.deferral(spec.task, request, dict(zip(ids, remaining, strict=True)))
            ):
                return outcome  # taken for a vendor batch: the items stay pending until it lands
            try:
                response = await self._call(request)
            except (DeadlineReachedError, ProviderUnavailableError):
                return outcome  # not attempted: the items stay pending for the next run
            except LlmError as error:
                for item_key in remaining:
                    outcome[item_key] = LlmFailure(error.status, str(error))
                return outcome
            answers = spec.split(response.parsed, pairs)
            per_item_in = response.usage.input_tokens // max(1, len(remaining))
            per_item_out = response.usage.output_tokens // max(1, len(remaining))
            bought: dict[str, CachedAnswer] = {}
            missing: list[str] = []
            for item_id, item_key in zip(ids, remaining, strict=True):
                answer = answers.get(item_id)
                if answer is None:
                    missing.append(item_key)
                    continue
                outcome[item_key] = answer
                bought[item_key] = CachedAnswer(answer.model_dump(mode="json"), per_item_in, per_item_out)
            if self.cache and bought:
                if self._unwritten is not None and self._unwritten.open:
                    self._unwritten.answers.setdefault(self._cache_key(spec.task), {}).update(bought)
                    self._write_behind()
                else:
                    self.cache.put_many(self._cache_key(spec.task), bought)
            if not missing:
                return outcome
            if round_number == 2:
                for item_key in missing:
                    outcome[item_key] = LlmFailure("invalid_output", "the model's answer left this item out twice")
                return outcome
            self.task_stats(spec.task).retries += 1
            remaining = missing
        return outcome


@dataclass(frozen=True)
class BatchSpec(Generic[ModelT]):
    """How one task batches: request builder, answer splitter, grouping, order and size of an item.

    `split` turns the parsed answer into one answer per item id of the call (given the call's
    (id, item) pairs); an id it leaves out, or whose answer does not fit its item, is asked again.
    """

    task: str
    output: type[ModelT]
    build: Callable[[list[tuple[str, Any]]], LlmRequest]
    split: Callable[[BaseModel, list[tuple[str, Any]]], dict[str, ModelT]]
    size: Callable[[Any], int]
    group_key: Callable[[Any], str] = lambda _item: ""
    order: Callable[[Any], tuple[str, ...]] | None = None  # items cut into calls in this order
    # Parts an item brings that a call writes once for all its items (key, characters).
    shared: Callable[[Any], Iterable[tuple[Hashable, int]]] | None = None


def _split_tier1(parsed: BaseModel, _pairs: list[tuple[str, Any]]) -> dict[str, Tier1Label]:
    assert isinstance(parsed, Tier1Batch)
    return {item.id: Tier1Label.model_validate(item.model_dump(exclude={"id"})) for item in parsed.labels}


def _split_tier2(parsed: BaseModel, _pairs: list[tuple[str, Any]]) -> dict[str, MentionExtraction]:
    assert isinstance(parsed, MentionBatch)
    return parsed.per_item()


def _split_insight(parsed: BaseModel, _pairs: list[tuple[str, Any]]) -> dict[str, InsightDraft]:
    assert isinstance(parsed, InsightBatch)
    return {item.id: InsightDraft.model_validate(item.model_dump(exclude={"id"})) for item in parsed.items}


def _split_match(parsed: BaseModel, pairs: list[tuple[str, Any]]) -> dict[str, CatalogMatch]:
    """Matches by ask id; a candidate id that is not one of the ask's own candidates is no answer."""
    assert isinstance(parsed, MatchBatch)
    allowed: dict[str, set[str]] = {item_id: {c.id for c in item.candidates} for item_id, item in pairs}
    return {
        answer.id: CatalogMatch(
            candidate_id=answer.candidate_id,
            score=answer.score,
            also_same=[c for c in answer.also_same if c in allowed[answer.id] and c != answer.candidate_id],
        )
        for answer in parsed.items
        if answer.id in allowed and (answer.candidate_id is None or answer.candidate_id in allowed[answer.id])
    }


def _match_size(item: MatchInput) -> int:
    """Characters of an ask's own text in a call (its candidates are `_match_candidates`)."""
    return len(item.title) + len(item.description) + len(item.quote) + 80


def _match_candidates(item: MatchInput) -> list[tuple[Hashable, int]]:
    """An ask's candidates and their characters: a call lists a candidate once for all its asks."""
    return [
        (candidate, len(candidate.title) + len(candidate.description) + sum(map(len, candidate.examples)) + 60)
        for candidate in item.candidates
    ]


_TIER1_SPEC = BatchSpec(
    task=TIER1,
    output=Tier1Label,
    build=lambda pairs: tier1_request([Tier1Input(id=i, text=item.text) for i, item in pairs]),
    split=_split_tier1,
    size=lambda item: len(item.text),
)
_TIER2_SPEC = BatchSpec(
    task=TIER2,
    output=MentionExtraction,
    build=tier2_request,
    split=_split_tier2,
    size=lambda item: len(item.text),
    # One organisation's taxonomy and competitor list per call.
    group_key=lambda item: repr((item.taxonomy, item.competitors)) if item.competitors else repr(item.taxonomy),
)
_INSIGHT_SPEC = BatchSpec(
    task=INSIGHT,
    output=InsightDraft,
    build=insight_request,
    split=_split_insight,
    size=lambda item: len(item.text),
)
_MATCH_SPEC = BatchSpec(
    task=MATCH,
    output=CatalogMatch,
    build=match_request,
    split=_split_match,
    size=_match_size,
    shared=_match_candidates,
    # Asks of one theme and sub-theme side by side: they share candidates, written once per call.
    order=lambda item: (item.theme or "", item.sub_theme or ""),
)


def _split_call(parsed: BaseModel, _pairs: list[tuple[str, Any]]) -> dict[str, CallInsightDraft]:
    assert isinstance(parsed, CallInsightBatch)
    return {item.id: CallInsightDraft.model_validate(item.model_dump(exclude={"id"})) for item in parsed.items}


_CALL_SPEC = BatchSpec(
    task=CALL,
    output=CallInsightDraft,
    build=call_request,
    split=_split_call,
    size=lambda item: len(item.text),
)


# Each task's batching, by task name: the batch path splits landed answers with the same `split`.
BATCH_SPECS: dict[str, BatchSpec[Any]] = {
    spec.task: spec for spec in (_TIER1_SPEC, _TIER2_SPEC, _INSIGHT_SPEC, _MATCH_SPEC, _CALL_SPEC)
}


async def _gather_all(jobs: list[Awaitable[None]]) -> None:
    """Run all jobs concurrently (the engine's semaphore bounds the calls in flight)."""
    if jobs:
        await asyncio.gather(*jobs)


def _annotate(span: Any, usage: TokenUsage, seconds: float, completion: str, *, status: str) -> None:
    total_input = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    span.set_attribute("gen_ai.usage.input_tokens", total_input)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    span.set_attribute("gen_ai.usage.cache_read_input_tokens", usage.cache_read_tokens)
    span.set_attribute("gen_ai.usage.cache_creation_input_tokens", usage.cache_write_tokens)
    span.set_attribute("gen_ai.completion", completion)
    span.set_attribute("langfuse.observation.output", completion)
    span.set_attribute(
        "langfuse.observation.usage_details",
        json.dumps({"input": total_input, "output": usage.output_tokens}),
    )
    span.set_attribute("headway.latency_ms", round(seconds * 1000, 1))
    span.set_attribute("headway.status", status)


def _error_status(description: str) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, description)
