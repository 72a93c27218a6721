"""The offline provider's answers to the tasks after tier-1: tier-2, insights and matching.

`answer(task, payload)` is what `headway_assets.offline.provider.OfflineProvider` calls with the
request's unrendered payload (`Tier2Input`, `InsightInput` or `MatchInput`) and returns the
same pydantic model an LLM provider would (`MentionExtraction`, `InsightDraft`, `CatalogMatch`).
Deterministic and local: no key, no network.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, overload

from pydantic import BaseModel

from headway_assets.llm.schemas import CallInsightDraft, CatalogMatch, InsightDraft, MentionExtraction
from headway_assets.llm.tasks import CALL, INSIGHT, MATCH, TIER2, CallInput, InsightInput, MatchInput, Tier2Input
from headway_assets.offline.calls import assess_call
from headway_assets.offline.extractor import OfflineExtractor
from headway_assets.offline.matcher import match
from headway_assets.offline.summariser import OfflineSummariser

TASKS: tuple[str, ...] = (TIER2, INSIGHT, MATCH, CALL)


@lru_cache(maxsize=1)
def extractor() -> OfflineExtractor:
    """The shared offline extractor (built once per process)."""
    return OfflineExtractor()


@lru_cache(maxsize=1)
def summariser() -> OfflineSummariser:
    """The shared offline summariser (built once per process)."""
    return OfflineSummariser()


@overload
def answer(task: str, payload: Tier2Input) -> MentionExtraction: ...
@overload
def answer(task: str, payload: InsightInput) -> InsightDraft: ...
@overload
def answer(task: str, payload: MatchInput) -> CatalogMatch: ...
@overload
def answer(task: str, payload: CallInput) -> CallInsightDraft: ...
@overload
def answer(task: str, payload: object) -> BaseModel: ...


def answer(task: str, payload: Any) -> BaseModel:
    """Answer one request of `task` ("tier2", "insight" or "match") for its payload.

    Returns the model an LLM provider would: `MentionExtraction`, `InsightDraft`, `CatalogMatch` or
    `CallInsightDraft` (task "call": the cue-phrase heuristics of `offline/calls.py`).
    Raises `ValueError` for an unknown task and `TypeError` for a payload of the wrong type.
    """
    expected: dict[str, type] = {TIER2: Tier2Input, INSIGHT: InsightInput, MATCH: MatchInput, CALL: CallInput}
    if task not in expected:
        raise ValueError(f"the offline tasks module has no task {task!r}; it answers {', '.join(TASKS)}")
    if not isinstance(payload, expected[task]):
        raise TypeError(
            f"offline task {task!r} needs a {expected[task].__name__} payload, got {type(payload).__name__}"
        )
    if isinstance(payload, Tier2Input):
        return extractor().extract(payload)
    if isinstance(payload, InsightInput):
        return summariser().summarise(payload)
    if isinstance(payload, CallInput):
        return assess_call(payload)
    assert isinstance(payload, MatchInput)  # checked against `expected` above
    return match(payload)
