"""The offline provider: Headway's own deterministic classifier and extractor, no key, no network.

It answers the same structured requests as the LLM providers, from the request's unrendered
`payload`, so the engine (cache, tracing, stats) treats it exactly like a remote model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

from pydantic import BaseModel

from headway_assets.core.llm_catalogue import OFFLINE_PROVIDER
from headway_assets.llm.providers.base import LlmError, LlmProvider, LlmRequest, LlmResponse
from headway_assets.llm.registry import LOCAL_MODEL, LOCAL_MODEL_PREFIX, OFFLINE_MODEL
from headway_assets.llm.schemas import (
    CallInsightBatch,
    CallInsightBatchItem,
    InsightBatch,
    InsightBatchItem,
    MatchBatch,
    MatchBatchItem,
    MentionBatch,
    Tier1Batch,
    Tier1BatchItem,
    Tier1Label,
)
from headway_assets.llm.tasks import CALL, INSIGHT, MATCH, TIER1, TIER2, Tier1Input
from headway_assets.offline.classifier import OfflineClassifier
from headway_assets.offline.org_models import is_org_model, load_org_model
from headway_assets.offline.tasks import answer
from headway_assets.offline.trained import cached_local_model

__all__ = ["OFFLINE_MODEL", "OfflineProvider", "answer_task", "tier1_classifier"]


class _Tier1Classifier(Protocol):
    def classify_many(self, texts: Iterable[str]) -> list[Tier1Label]: ...


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


def tier1_classifier(model: str = OFFLINE_MODEL) -> _Tier1Classifier:
    """Tier-1 for the configured offline model name: the lexicon (`headway-offline-N`), the trained
    model shipped in the package (`headway-local-N`), a trained artefact (`local:PATH`) or an
    organisation's own model (`org:SLUG@VERSION`, see `offline/org_models.py`).

    A trained model is loaded on first use and kept for the process."""
    if is_org_model(model):
        return load_org_model(model)
    if model.startswith(LOCAL_MODEL_PREFIX):
        return cached_local_model(model.removeprefix(LOCAL_MODEL_PREFIX))
    if model == LOCAL_MODEL:
        return cached_local_model(None)
    if model == OFFLINE_MODEL:
        return _classifier()
    raise LlmError(f"the offline provider has no tier-1 model {model!r}")


def answer_task(task: str, payload: Any, model: str = OFFLINE_MODEL) -> BaseModel:
    """The offline answer to one request's payload (runs in this process or a worker)."""
    if task == TIER1:
        items: list[Tier1Input] = payload
        labels = tier1_classifier(model).classify_many(item.text for item in items)
        return Tier1Batch(
            labels=[Tier1BatchItem(id=item.id, **label.model_dump()) for item, label in zip(items, labels, strict=True)]
        )
    if task == TIER2:
        return MentionBatch.of([(item_id, answer(TIER2, item)) for item_id, item in payload])
    if task == INSIGHT:
        return InsightBatch(
            items=[InsightBatchItem(id=item_id, **answer(INSIGHT, item).model_dump()) for item_id, item in payload]
        )
    if task == MATCH:
        # Each ask is matched on its own against its own candidates, as one at a time would be.
        return MatchBatch(
            items=[MatchBatchItem(id=item_id, **answer(MATCH, item).model_dump()) for item_id, item in payload]
        )
    if task == CALL:
        return CallInsightBatch(
            items=[CallInsightBatchItem(id=item_id, **answer(CALL, item).model_dump()) for item_id, item in payload]
        )
    raise LlmError(f"the offline provider has no implementation of task {task!r}")


class OfflineProvider(LlmProvider):
    """Rules, lexicons and a small model trained on our own examples (see `headway_assets/offline/`)."""

    name = OFFLINE_PROVIDER
    supports_batching = True
    in_process = True

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """Compute the answer right here: the work is pure Python, so a thread would only contend
        for the GIL with the warehouse writes of the same run (measured: it doubled their time)."""
        parsed = answer_task(request.task, request.payload, model)
        return LlmResponse(
            parsed=parsed,
            model=model,
            completion_text=json.dumps(parsed.model_dump(mode="json"), ensure_ascii=False),
            finish_reason="stop",
        )
