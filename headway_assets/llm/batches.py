"""Backfills at half price: the engine's packed calls sent through the vendors' batch APIs.

A run in batch mode hands its engine a `BatchCollector`: every call the engine packs (the same
`LlmRequest`s, over the same items, that the live path would send) is taken instead of sent,
and after the run the collector submits them as one vendor batch per task (Anthropic Message
Batches, OpenAI Batch API), recorded in `llm_batches` / `llm_batch_requests` with each request's
items' content hashes. The items stay pending; nothing holds the run open.

`land_open_batches` (called by the `llm_batch_results` sensor) polls the open batches. When one
ends, each succeeded request's answer goes through the provider's own checks and the engine's
own split, and every item's answer is written into the LLM cache under the live path's key, so
the next materialisation of the partition is all cache hits. Errored requests are resubmitted
once, in a new batch of only those; an expired or cancelled batch (or request), an answer that
fails validation and a request that errored twice are recorded, and their items go back to the
live path: the collector never defers them again. Spend is recorded at the batch discount.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, insert, select, update

from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import (
    LlmBatch,
    LlmBatchRequest,
    LlmBatchRequestStatus,
    LlmBatchStatus,
    LlmUsage,
    utc_now,
)
from headway_assets.llm.cache import CachedAnswer, CacheKey, LlmCache
from headway_assets.llm.engine import BATCH_SPECS
from headway_assets.llm.pricing import estimate_cost, price_list
from headway_assets.llm.providers.base import LlmError, LlmProvider, LlmRequest, RemoteProvider, TokenUsage
from headway_assets.llm.schemas import CallInsightBatch, InsightBatch, MatchBatch, MentionBatch, Tier1Batch
from headway_assets.llm.tasks import CALL, INSIGHT, MATCH, PROMPT_VERSIONS, TIER1, TIER2

BatchMode = Literal["off", "backfill", "always"]
BATCH_MODES: tuple[str, ...] = ("off", "backfill", "always")
# Requests per vendor batch (Anthropic takes 100,000, OpenAI 50,000; a smaller batch lands sooner).
MAX_REQUESTS_PER_BATCH = 10_000
# Tasks whose callers leave an unanswered item pending (tier-1, tier-2, per-message insights, call
# intelligence: `call_insights` writes no row for a call without an answer, its check counts it, and
# the next run finds it due and reads the landed answer from the cache). Matching
# is not among them: the catalogue's linker founds a request of its own for a mention without an
# answer, and asks in rounds that depend on the answers before; it stays on the live path.
BATCHABLE_TASKS = frozenset({TIER1, TIER2, INSIGHT, CALL})
# Submissions of a request: the first, and one resubmission of the ones that errored.
MAX_ATTEMPTS = 2
OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model for model in (Tier1Batch, MentionBatch, InsightBatch, MatchBatch, CallInsightBatch)
}
# Requests whose items are back on the live path (errored ones only once resubmitted and errored again).
_BACK_TO_LIVE = (
    LlmBatchRequestStatus.EXPIRED.value,
    LlmBatchRequestStatus.CANCELLED.value,
    LlmBatchRequestStatus.INVALID.value,
)


def wants_batch(mode: str, days: int) -> bool:
    """Whether a run covering `days` partition days goes through the batch APIs under `mode`."""
    if mode not in BATCH_MODES:
        raise ValueError(f"batch mode must be one of {', '.join(BATCH_MODES)}, got {mode!r}")
    return mode == "always" or (mode == "backfill" and days > 1)


# -- the vendors' batch APIs ---------------------------------------------------------------------


BatchState = Literal["processing", "ended", "expired", "cancelled", "failed"]
ResultKind = Literal["succeeded", "errored", "expired", "cancelled"]


@dataclass(frozen=True)
class VendorBatch:
    """A vendor batch as its API reports it."""

    vendor_id: str
    state: BatchState
    vendor_status: str
    error: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """One request's outcome: `reply` is the SDK's message / completion when it succeeded."""

    custom_id: str
    kind: ResultKind
    reply: Any = None
    error: str | None = None


class BatchApi(ABC):
    """A vendor's batch API through its own SDK client (the provider's)."""

    def __init__(self, provider: RemoteProvider) -> None:
        self.provider = provider
        self.client: Any = provider._client

    @abstractmethod
    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> VendorBatch:
        """Submit (custom_id, request body) pairs as one batch."""

    @abstractmethod
    async def status(self, vendor_id: str) -> VendorBatch:
        """The batch's current state."""

    @abstractmethod
    async def results(self, batch: VendorBatch) -> list[BatchResult]:
        """Every request's outcome of an ended batch."""

    @abstractmethod
    async def cancel(self, vendor_id: str) -> VendorBatch:
        """Ask the vendor to cancel the batch."""


class AnthropicBatchApi(BatchApi):
    """Message Batches: `client.messages.batches.create / retrieve / results / cancel`."""

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> VendorBatch:
        """One `POST /v1/messages/batches`."""
        batch = await self.client.messages.batches.create(
            requests=[{"custom_id": custom_id, "params": params} for custom_id, params in requests]
        )
        return self._read(batch)

    async def status(self, vendor_id: str) -> VendorBatch:
        """One `GET /v1/messages/batches/{id}`."""
        return self._read(await self.client.messages.batches.retrieve(vendor_id))

    async def cancel(self, vendor_id: str) -> VendorBatch:
        """One `POST /v1/messages/batches/{id}/cancel`."""
        return self._read(await self.client.messages.batches.cancel(vendor_id))

    async def results(self, batch: VendorBatch) -> list[BatchResult]:
        """The JSONL at the batch's `results_url`."""
        out: list[BatchResult] = []
        async for line in await self.client.messages.batches.results(batch.vendor_id):
            result = line.result
            if result.type == "succeeded":
                out.append(BatchResult(line.custom_id, "succeeded", reply=result.message))
            elif result.type == "errored":
                error = result.error.error
                out.append(BatchResult(line.custom_id, "errored", error=f"{error.type}: {error.message}"[:400]))
            elif result.type == "expired":
                out.append(BatchResult(line.custom_id, "expired"))
            else:
                out.append(BatchResult(line.custom_id, "cancelled"))
        return out

    @staticmethod
    def _read(batch: Any) -> VendorBatch:
        status = str(batch.processing_status)
        if status != "ended":
            return VendorBatch(batch.id, "processing", status)
        counts = batch.request_counts
        if batch.cancel_initiated_at is not None:
            state: BatchState = "cancelled"
        elif counts.expired and not (counts.succeeded or counts.errored):
            state = "expired"
        else:
            state = "ended"
        return VendorBatch(batch.id, state, status)


class OpenAIBatchApi(BatchApi):
    """Batch API: a JSONL file uploaded with `client.files.create(purpose="batch")`, then
    `client.batches.create / retrieve / cancel`, results in the output and error files."""

    endpoint = "/v1/chat/completions"

    async def submit(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> VendorBatch:
        """Upload the requests as JSONL, then create the batch over it."""
        lines = (
            json.dumps({"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body})
            for custom_id, body in requests
        )
        data = ("\n".join(lines) + "\n").encode("utf-8")
        uploaded = await self.client.files.create(file=("headway-batch.jsonl", data), purpose="batch")
        batch = await self.client.batches.create(
            input_file_id=uploaded.id, endpoint=self.endpoint, completion_window="24h"
        )
        return self._read(batch)

    async def status(self, vendor_id: str) -> VendorBatch:
        """One `GET /v1/batches/{id}`."""
        return self._read(await self.client.batches.retrieve(vendor_id))

    async def cancel(self, vendor_id: str) -> VendorBatch:
        """One `POST /v1/batches/{id}/cancel`."""
        return self._read(await self.client.batches.cancel(vendor_id))

    async def results(self, batch: VendorBatch) -> list[BatchResult]:
        """The lines of the batch's output and error files."""
        from openai.types.chat import ChatCompletion

        current = await self.client.batches.retrieve(batch.vendor_id)
        out: list[BatchResult] = []
        for file_id in (current.output_file_id, current.error_file_id):
            if not file_id:
                continue
            content = await self.client.files.content(file_id)
            for text in content.text.splitlines():
                if not text.strip():
                    continue
                line = json.loads(text)
                response, error = line.get("response"), line.get("error")
                custom_id = str(line.get("custom_id"))
                if response and response.get("status_code") == 200:
                    out.append(
                        BatchResult(custom_id, "succeeded", reply=ChatCompletion.model_validate(response["body"]))
                    )
                elif response:
                    detail = (response.get("body") or {}).get("error") or {}
                    reason = f"HTTP {response.get('status_code')} {detail.get('type') or ''}".rstrip()
                    out.append(BatchResult(custom_id, "errored", error=reason))
                elif error and error.get("code") == "batch_expired":
                    out.append(BatchResult(custom_id, "expired"))
                elif error and error.get("code") == "batch_cancelled":
                    out.append(BatchResult(custom_id, "cancelled"))
                else:
                    out.append(BatchResult(custom_id, "errored", error=str((error or {}).get("code") or "error")))
        return out

    @staticmethod
    def _read(batch: Any) -> VendorBatch:
        status = str(batch.status)
        states: dict[str, BatchState] = {
            "completed": "ended",
            "expired": "expired",
            "cancelled": "cancelled",
            "failed": "failed",
        }
        state = states.get(status, "processing")
        error = None
        if state == "failed" and batch.errors is not None and batch.errors.data:
            first = batch.errors.data[0]
            error = f"{first.code}: {first.message}"[:400]
        return VendorBatch(batch.id, state, status, error)


def batch_api(provider: LlmProvider) -> BatchApi | None:
    """The batch API of `provider`'s vendor, or None when it has none (the offline provider)."""
    from headway_assets.llm.providers.anthropic_provider import AnthropicProvider
    from headway_assets.llm.providers.openai_provider import OpenAIProvider

    if isinstance(provider, AnthropicProvider):
        return AnthropicBatchApi(provider)
    if isinstance(provider, OpenAIProvider):
        return OpenAIBatchApi(provider)
    return None


# -- requests as stored ----------------------------------------------------------------------------


def _stored_request(request: LlmRequest) -> dict[str, Any]:
    """What rebuilds `request` later (and, for matching, each ask's own candidates)."""
    stored: dict[str, Any] = {
        "system": request.system,
        "context": request.context,
        "user": request.user,
        "max_tokens": request.max_tokens,
        "output_model": request.output_model.__name__,
    }
    if request.task == MATCH:
        stored["candidates"] = {item_id: [c.id for c in item.candidates] for item_id, item in request.payload}
    return stored


def _rebuilt_request(task: str, prompt_version: str, stored: dict[str, Any]) -> LlmRequest:
    return LlmRequest(
        task=task,
        prompt_version=prompt_version,
        system=stored["system"],
        context=stored.get("context", ""),
        user=stored["user"],
        output_model=OUTPUT_MODELS[stored["output_model"]],
        max_tokens=int(stored["max_tokens"]),
    )


def _pairs(task: str, items: dict[str, str], stored: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (id, item) pairs the engine's `split` reads: only matching looks at the items (their candidates)."""
    if task != MATCH:
        return [(item_id, None) for item_id in items]
    candidates = stored.get("candidates", {})
    return [
        (item_id, SimpleNamespace(candidates=[SimpleNamespace(id=c) for c in candidates.get(item_id, [])]))
        for item_id in items
    ]


@dataclass
class PendingRequest:
    """A packed call waiting to be submitted: its request and {item id: content hash}."""

    task: str
    request: dict[str, Any]
    items: dict[str, str]


@dataclass(frozen=True)
class BatchOrigin:
    """The asset and partition range whose run submitted a batch (what to re-run once it lands)."""

    asset: str
    partition_start: str | None = None
    partition_end: str | None = None
    # (org id, share of the run's items): whose spend the batch is (empty: no organisation's).
    org_shares: tuple[tuple[int, float], ...] = ()


async def submit_requests(
    database_url: str,
    provider: LlmProvider,
    task: str,
    model: str,
    requests: Sequence[PendingRequest],
    origin: BatchOrigin,
    *,
    attempt: int = 1,
    retry_of: int | None = None,
) -> list[int]:
    """Submit `requests` of one task as vendor batches (at most MAX_REQUESTS_PER_BATCH each) and
    record them; returns the ids of the `llm_batches` rows."""
    api = batch_api(provider)
    if api is None or not requests:
        return []
    prompt_version = PROMPT_VERSIONS[task]
    ids: list[int] = []
    for start in range(0, len(requests), MAX_REQUESTS_PER_BATCH):
        chunk = requests[start : start + MAX_REQUESTS_PER_BATCH]
        named = [(f"{task}-{start + number}", pending) for number, pending in enumerate(chunk)]
        bodies = [
            (custom_id, api.provider.request_params(_rebuilt_request(task, prompt_version, p.request), model))
            for custom_id, p in named
        ]
        vendor = await api.submit(bodies)
        with write_transaction(database_url) as conn:
            batch_id = conn.execute(
                insert(LlmBatch)
                .values(
                    provider=provider.name,
                    vendor_batch_id=vendor.vendor_id,
                    task=task,
                    prompt_version=prompt_version,
                    model=model,
                    asset=origin.asset,
                    partition_start=origin.partition_start,
                    partition_end=origin.partition_end,
                    status=LlmBatchStatus.OPEN.value,
                    vendor_status=vendor.vendor_status,
                    attempt=attempt,
                    retry_of=retry_of,
                    request_count=len(named),
                    item_count=sum(len(p.items) for _, p in named),
                    succeeded=0,
                    errored=0,
                    expired=0,
                    cancelled=0,
                    input_tokens=0,
                    output_tokens=0,
                    cache_read_tokens=0,
                    cost_usd=0.0,
                    submitted_at=utc_now(),
                    org_shares={str(org_id): share for org_id, share in origin.org_shares},
                )
                .returning(LlmBatch.id)
            ).scalar_one()
            conn.execute(
                insert(LlmBatchRequest),
                [
                    {
                        "batch_id": batch_id,
                        "custom_id": custom_id,
                        "items": p.items,
                        "request": p.request,
                        "status": LlmBatchRequestStatus.PENDING.value,
                    }
                    for custom_id, p in named
                ],
            )
        ids.append(int(batch_id))
    return ids


def _org_shares(batch: Any) -> tuple[tuple[int, float], ...]:
    """The batch's recorded (org id, share) pairs (none for batches recorded before they were kept)."""
    stored = getattr(batch, "org_shares", None) or {}
    return tuple(sorted((int(org_id), float(share)) for org_id, share in stored.items()))


# -- the run side: taking the engine's calls --------------------------------------------------------


@dataclass
class BatchCollector:
    """Takes an engine's packed calls for vendor batches (install with `engine.deferral = collector`).

    A call is sent live instead when its task is not batchable (matching) or one of its items is
    back on the live path (its batch expired, was cancelled, errored twice or failed validation);
    it is dropped, not submitted again, when every item of it is already in an open batch, so
    running a partition twice never buys twice."""

    database_url: str
    provider: LlmProvider
    models: dict[str, str]
    origin: BatchOrigin
    # False for a run batch mode does not cover (one day in `backfill` mode): it submits nothing and
    # sends its calls live, except those whose items are all in open batches (never bought twice).
    take_new: bool = True
    taken: list[PendingRequest] = field(default_factory=list)
    already_open: int = 0
    sent_live: int = 0
    submitted: list[int] = field(default_factory=list)
    _open: dict[str, set[str]] = field(default_factory=dict)
    _live: dict[str, set[str]] = field(default_factory=dict)

    def load(self) -> BatchCollector:
        """Read which items are in open batches and which are back on the live path, per task."""
        with get_engine(self.database_url).connect() as conn:
            for task, model in self.models.items():
                self._open[task] = _item_hashes(conn, task, model, open_only=True)
                self._live[task] = _item_hashes(conn, task, model, open_only=False)
        return self

    def __call__(self, task: str, request: LlmRequest, items: dict[str, str]) -> bool:
        """True when the call is taken (or already in an open batch): the engine does not send it."""
        if task not in BATCHABLE_TASKS:
            return False
        hashes = set(items.values())
        if hashes & self._live.get(task, set()):
            self.sent_live += 1
            return False
        open_hashes = self._open.setdefault(task, set())
        if hashes <= open_hashes:
            self.already_open += 1
            return True
        if not self.take_new:
            return False
        self.taken.append(PendingRequest(task, _stored_request(request), dict(items)))
        open_hashes.update(hashes)
        return True

    async def submit(self) -> list[int]:
        """Submit what was taken, one batch per task; returns the `llm_batches` ids."""
        by_task: dict[str, list[PendingRequest]] = {}
        for pending in self.taken:
            by_task.setdefault(pending.task, []).append(pending)
        self.taken = []
        for task, requests in by_task.items():
            self.submitted += await submit_requests(
                self.database_url, self.provider, task, self.models[task], requests, self.origin
            )
        return self.submitted

    def metadata(self) -> dict[str, Any]:
        """What the run sent to batches, for the asset's metadata."""
        return {
            "llm_batches_submitted": len(self.submitted),
            "llm_batch_ids": self.submitted,
            "llm_calls_already_in_open_batches": self.already_open,
            "llm_calls_back_on_live_path": self.sent_live,
        }


def _item_hashes(conn: Connection, task: str, model: str, *, open_only: bool) -> set[str]:
    """Content hashes of `task`'s items in open batches (`open_only`), or back on the live path."""
    query = (
        select(LlmBatchRequest.items)
        .join(LlmBatch, LlmBatch.id == LlmBatchRequest.batch_id)
        .where(LlmBatch.task == task, LlmBatch.model == model, LlmBatch.prompt_version == PROMPT_VERSIONS[task])
    )
    if open_only:
        query = query.where(LlmBatch.status == LlmBatchStatus.OPEN.value)
    else:
        query = query.where(
            (LlmBatchRequest.status.in_(_BACK_TO_LIVE))
            | ((LlmBatchRequest.status == LlmBatchRequestStatus.ERRORED.value) & (LlmBatch.attempt >= MAX_ATTEMPTS))
        )
    return {content_hash for (items,) in conn.execute(query) for content_hash in items.values()}


# -- the sensor side: landing ended batches ---------------------------------------------------------


@dataclass(frozen=True)
class LandedBatch:
    """An ended batch: how it ended and what it did, and the run to request."""

    batch_id: int
    task: str
    status: str
    succeeded: int
    errored: int
    expired: int
    cancelled: int
    items_cached: int
    cost_usd: float
    origin: BatchOrigin
    resubmitted_as: list[int]


async def land_open_batches(database_url: str, provider_for: Any, *, limit: int = 20) -> list[LandedBatch]:
    """Poll every open batch (`provider_for(name)` gives an open provider of that name); land the
    ended ones. Returns what ended this time."""
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            select(LlmBatch.__table__)
            .where(LlmBatch.status == LlmBatchStatus.OPEN.value)
            .order_by(LlmBatch.id)
            .limit(limit)
        ).all()
    landed: list[LandedBatch] = []
    for row in rows:
        provider = provider_for(row.provider)
        api = batch_api(provider)
        if api is None:
            continue
        vendor = await api.status(row.vendor_batch_id)
        if vendor.state == "processing":
            with write_transaction(database_url) as conn:
                conn.execute(update(LlmBatch).where(LlmBatch.id == row.id).values(vendor_status=vendor.vendor_status))
            continue
        landed.append(await _land(database_url, api, row, vendor))
    return landed


async def _land(database_url: str, api: BatchApi, batch: Any, vendor: VendorBatch) -> LandedBatch:
    """Write an ended batch's answers into the cache, record every request's outcome, resubmit the
    errored ones once."""
    with get_engine(database_url).connect() as conn:
        requests = conn.execute(select(LlmBatchRequest.__table__).where(LlmBatchRequest.batch_id == batch.id)).all()
    results = {r.custom_id: r for r in await api.results(vendor)} if vendor.state != "failed" else {}
    spec = BATCH_SPECS[batch.task]
    key = CacheKey(task=batch.task, prompt_version=batch.prompt_version, model=batch.model)
    cache = LlmCache(database_url)
    usage = TokenUsage()
    updates: list[dict[str, Any]] = []
    errored: list[Any] = []
    items_cached = 0
    answered = 0
    missing_kind: ResultKind = "expired" if vendor.state == "expired" else "cancelled"
    for request in requests:
        result = results.get(request.custom_id)
        if vendor.state == "failed":
            status, error = (
                LlmBatchRequestStatus.CANCELLED.value,
                f"batch failed: {vendor.error or vendor.vendor_status}",
            )
        elif result is None:
            status, error = missing_kind, None
        elif result.kind == "succeeded":
            answered += 1
            status, error, cached, spent = _land_answer(api.provider, batch, request, result.reply, spec, key, cache)
            usage.add(spent)
            items_cached += cached
        elif result.kind == "errored":
            status, error = LlmBatchRequestStatus.ERRORED.value, result.error
            errored.append(request)
        else:
            status, error = result.kind, None
        updates.append({"id": request.id, "status": status, "error": (error or "")[:500] or None})
    counts = {kind: sum(1 for u in updates if u["status"] == kind) for kind in ("errored", "expired", "cancelled")}
    succeeded = sum(1 for u in updates if u["status"] in ("succeeded", "invalid"))
    cost = estimate_cost(batch.model, usage, price_list(), batch=True)
    final = {
        "ended": LlmBatchStatus.ENDED.value,
        "expired": LlmBatchStatus.EXPIRED.value,
        "cancelled": LlmBatchStatus.CANCELLED.value,
        "failed": LlmBatchStatus.FAILED.value,
    }[vendor.state]
    with write_transaction(database_url) as conn:
        for change in updates:
            conn.execute(
                update(LlmBatchRequest)
                .where(LlmBatchRequest.id == change["id"])
                .values(status=change["status"], error=change["error"])
            )
        conn.execute(
            update(LlmBatch)
            .where(LlmBatch.id == batch.id)
            .values(
                status=final,
                vendor_status=vendor.vendor_status,
                succeeded=succeeded,
                errored=counts["errored"],
                expired=counts["expired"],
                cancelled=counts["cancelled"],
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cost_usd=cost,
                error=vendor.error,
                ended_at=utc_now(),
            )
        )
        if answered:
            partition = batch.partition_start
            if batch.partition_end and batch.partition_end != batch.partition_start:
                partition = f"{batch.partition_start}...{batch.partition_end}"
            shares = _org_shares(batch)
            conn.execute(
                insert(LlmUsage),
                [
                    {
                        "dagster_run_id": None,
                        "asset": batch.asset,
                        "partition": partition,
                        "task": batch.task,
                        "provider": batch.provider,
                        "model": batch.model,
                        "org_id": org_id,
                        # Counts shared out (rounded) as the live path's record_usage does; cost exact.
                        "calls": round(answered * share),
                        "cache_hits": 0,
                        "input_tokens": round(usage.input_tokens * share),
                        "output_tokens": round(usage.output_tokens * share),
                        "cache_read_tokens": round(usage.cache_read_tokens * share),
                        "cost_usd": cost * share,
                    }
                    for org_id, share in (shares or ((None, 1.0),))
                ],
            )
    origin = BatchOrigin(batch.asset, batch.partition_start, batch.partition_end, _org_shares(batch))
    resubmitted: list[int] = []
    if errored and batch.attempt < MAX_ATTEMPTS:
        # Only the failures go again, as they were packed; a second failure sends them live.
        resubmitted = await submit_requests(
            database_url,
            api.provider,
            batch.task,
            batch.model,
            [PendingRequest(batch.task, r.request, r.items) for r in errored],
            origin,
            attempt=batch.attempt + 1,
            retry_of=batch.id,
        )
    return LandedBatch(
        batch_id=batch.id,
        task=batch.task,
        status=final,
        succeeded=succeeded,
        errored=counts["errored"],
        expired=counts["expired"],
        cancelled=counts["cancelled"],
        items_cached=items_cached,
        cost_usd=cost,
        origin=origin,
        resubmitted_as=resubmitted,
    )


def _land_answer(
    provider: RemoteProvider,
    batch: Any,
    request: Any,
    reply: Any,
    spec: Any,
    key: CacheKey,
    cache: LlmCache,
) -> tuple[str, str | None, int, TokenUsage]:
    """Validate one succeeded request's answer as the live path does and cache each item's answer.
    Returns (request status, error, items cached, tokens it cost)."""
    llm_request = _rebuilt_request(batch.task, batch.prompt_version, request.request)
    try:
        response = provider.checked(reply, llm_request)
    except LlmError as error:
        return LlmBatchRequestStatus.INVALID.value, f"{error.status}: {error}", 0, error.usage
    items: dict[str, str] = request.items
    answers = spec.split(response.parsed, _pairs(batch.task, items, request.request))
    per_item_in = response.usage.input_tokens // max(1, len(items))
    per_item_out = response.usage.output_tokens // max(1, len(items))
    bought = {
        items[item_id]: CachedAnswer(answer.model_dump(mode="json"), per_item_in, per_item_out)
        for item_id, answer in answers.items()
        if item_id in items
    }
    if bought:
        cache.put_many(key, bought)
    left_out = len(set(items) - set(answers))
    if left_out:
        # The live path would ask those again; here they go back to it (the answered ones are cached).
        return (
            LlmBatchRequestStatus.INVALID.value,
            f"the answer left out {left_out} item(s)",
            len(bought),
            response.usage,
        )
    return LlmBatchRequestStatus.SUCCEEDED.value, None, len(bought), response.usage


async def cancel_batch(database_url: str, provider: LlmProvider, batch_id: int) -> VendorBatch | None:
    """Ask the vendor to cancel one of our open batches (the sensor records how it ended)."""
    api = batch_api(provider)
    with get_engine(database_url).connect() as conn:
        vendor_id = conn.execute(select(LlmBatch.vendor_batch_id).where(LlmBatch.id == batch_id)).scalar_one_or_none()
    if api is None or vendor_id is None:
        return None
    return await api.cancel(vendor_id)


def open_batch_count(conn: Connection) -> int:
    """Batches still processing at the vendor."""
    from sqlalchemy import func

    return int(
        conn.execute(
            select(func.count()).select_from(LlmBatch).where(LlmBatch.status == LlmBatchStatus.OPEN.value)
        ).scalar_one()
    )


def partition_days(origins: Iterable[BatchOrigin]) -> list[BatchOrigin]:
    """Distinct origins, in order (one run request each)."""
    seen: dict[BatchOrigin, None] = {}
    for origin in origins:
        seen.setdefault(origin, None)
    return list(seen)
