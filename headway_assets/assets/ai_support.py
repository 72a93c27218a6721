"""Plumbing the AI assets share: running the engine from a sync asset, and recording spend."""

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dagster as dg
from sqlalchemy import insert

from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.llm_spend import applied_budgets, over_budget
from headway_assets.core.warehouse.schema import LlmUsage
from headway_assets.llm.batches import BatchCollector, BatchOrigin, batch_api, wants_batch
from headway_assets.llm.engine import LlmEngine, TaskStats
from headway_assets.llm.pricing import PRICES_AS_OF
from headway_assets.llm.tracing import flush_traces
from headway_assets.resources.llm import LlmResource, TaskVersion
from headway_assets.resources.warehouse import WarehouseResource

AI_GROUP = "ai"
LLM_POOL = "llm"  # bounds LLM-bound steps across all runs (dagster.yaml / `dg` pool limits)
T = TypeVar("T")
S = TypeVar("S")
# Run tag that asks the AI assets to redo stale outcomes (as the LLM resource's `refresh_stale`);
# a tag can be set in the UI's backfill dialog, where run config cannot.
REFRESH_STALE_TAG = "headway/refresh_stale"


def refresh_version(context: dg.AssetExecutionContext, llm: LlmResource, task: str) -> TaskVersion | None:
    """What `task`'s outcomes must have been made with to stay current in this run, or None when
    the run does not refresh stale outcomes (neither `refresh_stale` nor the run tag is set)."""
    tagged = context.run.tags.get(REFRESH_STALE_TAG, "").strip().lower() in ("1", "true", "yes")
    return llm.stale_unless(task, requested=tagged)


def progress_logger(context: dg.AssetExecutionContext, every: int = 200) -> Callable[[str, int, int], None]:
    """A progress callback that logs every `every` items and at the end."""
    last_logged: dict[str, int] = {}

    def report(task: str, done: int, total: int) -> None:
        if done == total or done - last_logged.get(task, 0) >= every:
            last_logged[task] = done
            context.log.info(f"{task}: {done}/{total} items answered or failed")

    return report


def org_shares(items: Iterable[T], org_of: Callable[[T], int], size: Callable[[T], int]) -> dict[int, float]:
    """Each organisation's share (0..1) of the items a run sent, weighted by `size` (characters)."""
    totals: dict[int, float] = {}
    for item in items:
        totals[org_of(item)] = totals.get(org_of(item), 0.0) + max(1, size(item))
    whole = sum(totals.values())
    return {org_id: total / whole for org_id, total in sorted(totals.items())} if whole else {}


def record_usage(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    engine: LlmEngine,
    *,
    partition: str | None,
    shares: Mapping[int, float] | None = None,
) -> None:
    """`llm_usage` rows per task the engine ran, so spend is queryable by asset, day and organisation:
    one row per organisation of `shares` (its share of the run's items), or one without an
    organisation when the spend is not any one's."""
    split: dict[int | None, float] = {org_id: share for org_id, share in (shares or {}).items()} or {None: 1.0}
    rows = [
        {
            "dagster_run_id": context.run.run_id,
            "asset": context.asset_key.to_user_string(),
            "partition": partition,
            "task": task,
            "provider": engine.provider.name,
            "model": engine.model(task),
            "org_id": org_id,
            # Counts are shared out too (rounded); the cost is exact to the cent's fraction.
            "calls": round(stats.calls * share),
            "cache_hits": round(stats.cache_hits * share),
            "input_tokens": round(stats.usage.input_tokens * share),
            "output_tokens": round(stats.usage.output_tokens * share),
            "cache_read_tokens": round(stats.usage.cache_read_tokens * share),
            "cache_write_tokens": round(stats.usage.cache_write_tokens * share),
            "cost_usd": stats.cost_usd * share,
        }
        for task, stats in engine.stats.items()
        if stats.calls or stats.cache_hits
        for org_id, share in split.items()
    ]
    if rows:
        with warehouse.write() as conn:
            conn.execute(insert(LlmUsage), rows)
    flush_traces()


def _summed(stats: Iterable[TaskStats]) -> TaskStats:
    total = TaskStats()
    for one in stats:
        total.calls += one.calls
        total.cache_hits += one.cache_hits
        total.items_answered += one.items_answered
        total.items_failed += one.items_failed
        total.items_not_attempted += one.items_not_attempted
        total.retries += one.retries
        total.usage.add(one.usage)
        total.cost_usd += one.cost_usd
        total.seconds_in_calls += one.seconds_in_calls
    return total


def llm_metadata(engine: LlmEngine, *others: LlmEngine) -> dict[str, Any]:
    """Calls, tokens, cost and cache hits of the run, summed over tasks and per task; with `others`
    (a run whose organisations use different models, one engine each), summed over the engines too."""
    engines = (engine, *others)
    total = _summed(stats for one in engines for stats in one.stats.values())
    redacted: Counter[str] = Counter()
    for one in engines:
        redacted.update(one.privacy.counts)
    metadata: dict[str, Any] = {
        "llm_provider": engine.provider.name,
        "llm_calls": total.calls,
        "llm_cache_hits": total.cache_hits,
        "llm_input_tokens": total.usage.input_tokens,
        "llm_output_tokens": total.usage.output_tokens,
        "llm_cache_read_tokens": total.usage.cache_read_tokens,
        "llm_cache_write_tokens": total.usage.cache_write_tokens,
        "llm_cost_usd": round(total.cost_usd, 6),
        "llm_prices_as_of": PRICES_AS_OF.isoformat(),
        "llm_validation_retries": total.retries,
        # Personal data replaced before the calls, distinct values per kind (counts, never values).
        "pii_redacted": dg.MetadataValue.json(dict(sorted(redacted.items()))),
    }
    for one in engines:
        if isinstance(one.deferral, BatchCollector):
            for key, value in one.deferral.metadata().items():
                # Counts add up, batch ids line up.
                metadata[key] = metadata[key] + value if key in metadata else value
    for task in sorted({task for one in engines for task in one.stats}):
        ran = [one for one in engines if task in one.stats]
        model = ", ".join(dict.fromkeys(one.model(task) for one in ran))
        stats = _summed(one.stats[task] for one in ran)
        metadata[f"llm_{task}"] = dg.MetadataValue.json({"model": model, **stats.as_metadata()})
    return metadata


@dataclass(frozen=True)
class BudgetCheck:
    """What the monthly LLM budgets held back in a run, for its metadata (organisation ids, counts
    and amounts: no customer data, nor the invalid stored value itself)."""

    # Items left pending per organisation over its budget.
    skipped: dict[str, int] = field(default_factory=dict)
    # Organisations whose stored budget is invalid: the reason's code and the budget applied instead.
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The asset's metadata entries: `skipped_over_budget` and `invalid_llm_budgets`."""
        return {
            "skipped_over_budget": dg.MetadataValue.json(self.skipped),
            "invalid_llm_budgets": dg.MetadataValue.json(self.invalid),
        }


def within_budget(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, items: list[T], org_of: Callable[[T], int]
) -> tuple[list[T], BudgetCheck]:
    """The items of organisations still within their monthly LLM budget, and what was held back: how
    many of each other organisation's items were left pending, and which organisations' stored
    budget is invalid (`core.org_settings.applied_monthly_budget`: the deployment's applies)."""
    if not items:
        return items, BudgetCheck()
    default = get_settings().pipeline.llm_monthly_budget_usd
    org_ids = {org_of(item) for item in items}
    with warehouse.read() as conn:
        budgets = applied_budgets(conn, org_ids, default)
        spent = over_budget(conn, org_ids, default)
    invalid: dict[str, dict[str, Any]] = {}
    for org_id, applied in sorted(budgets.items()):
        if applied.reason is not None:
            invalid[str(org_id)] = {"reason": applied.reason.code, "applied_budget_usd": applied.value}
            context.log.warning(
                f"organisation {org_id}'s stored monthly LLM budget is invalid ({applied.reason.code}); the"
                f" deployment's ${applied.value:g} applies until it is set again (headway orgs budget or"
                " PATCH /v1/organization/settings)"
            )
    if not spent:
        return items, BudgetCheck(invalid=invalid)
    for state in spent.values():
        context.log.warning(state.reason())
    skipped: dict[str, int] = {}
    for item in items:
        if org_of(item) in spent:
            skipped[str(org_of(item))] = skipped.get(str(org_of(item)), 0) + 1
    return [item for item in items if org_of(item) not in spent], BudgetCheck(skipped, invalid)


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from a synchronous asset body."""
    import asyncio

    return asyncio.run(work())  # type: ignore[arg-type]


def run_with_engine(
    context: dg.AssetExecutionContext,
    llm: LlmResource,
    warehouse: WarehouseResource,
    work: Callable[[LlmEngine], Awaitable[T]],
    *,
    progress_every: int | None = 200,
    shares: Mapping[int, float] | None = None,
    models: Mapping[str, str] | None = None,
) -> tuple[LlmEngine, T]:
    """Run `work` with this run's engine (its provider client closed afterwards) from a synchronous
    asset body; returns the engine, whose stats stay readable, and what `work` returned. `shares`
    (each organisation's share of the run's items, as `record_usage` takes them) go with the run's
    vendor batches, whose spend is recorded when they land. `models` override the configured model
    of some tasks for this engine (`LlmResource.engine`)."""
    progress = progress_logger(context, every=progress_every) if progress_every else None

    async def run() -> tuple[LlmEngine, T]:
        async with llm.engine(warehouse.url, progress=progress, models=models) as engine:
            collector = batch_collector(context, llm, warehouse, engine, shares)
            engine.deferral = collector
            result = await work(engine)
            if collector is not None:
                # The run ends here; the llm_batch_results sensor lands the answers and re-runs.
                batches = await collector.submit()
                if batches:
                    context.log.info(f"{len(batches)} vendor batch(es) submitted: {batches}")
            return engine, result

    return run_async(run)


async def run_slices(
    engine: LlmEngine,
    slices: Iterable[S],
    answer: Callable[[S], Awaitable[T]],
    commit: Callable[[T], None],
    *,
    on_stop: Callable[[str], None],
    ahead: int = 1,
) -> None:
    """Answer `slices` in order and `commit` each one's result as soon as it is in, with the next
    `ahead` slice(s) already asking meanwhile: their calls queue for the slots the current slice
    frees, so no slot idles at a slice boundary (a slice whose calls end in a half-empty wave does
    not hold the next slice back) and the commits overlap calls in flight. Before a slice starts,
    `engine.stop_reason()` is checked: once it gives a reason, `on_stop(reason)` is told and no
    further slice starts (those running finish and commit; their unstarted calls stay pending)."""
    pieces = iter(slices)
    running: deque[asyncio.Task[T]] = deque()
    stopped = False

    def start_next() -> None:
        nonlocal stopped
        piece = next(pieces, None)
        if piece is None:
            stopped = True
            return
        reason = engine.stop_reason()
        if reason:
            on_stop(reason)
            stopped = True
            return
        running.append(asyncio.ensure_future(answer(piece)))

    try:
        while True:
            while not stopped and len(running) <= ahead:
                start_next()
            if not running:
                return
            commit(await running.popleft())
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


def batch_collector(
    context: dg.AssetExecutionContext,
    llm: LlmResource,
    warehouse: WarehouseResource,
    engine: LlmEngine,
    shares: Mapping[int, float] | None = None,
) -> BatchCollector | None:
    """The collector that takes this run's calls for vendor batches when the LLM resource's batch mode
    covers the run (`backfill`: more than one partition day) and the provider has a batch API. A run
    the mode does not cover (a day the incomplete-partitions sensor re-requests while its backfill's
    batch is open) still gets one, that only skips the calls already in open batches."""
    mode = llm.batch_mode_in_effect
    days = len(context.partition_keys) if context.has_partition_key_range else 0
    if mode == "off" or batch_api(engine.provider) is None:
        return None
    keys = context.partition_key_range if context.has_partition_key_range else None
    origin = BatchOrigin(
        asset=context.asset_key.to_user_string(),
        partition_start=keys.start if keys else None,
        partition_end=keys.end if keys else None,
        org_shares=tuple(sorted((shares or {}).items())),
    )
    return BatchCollector(
        warehouse.url, engine.provider, dict(engine.config.models), origin, take_new=wants_batch(mode, days)
    ).load()
