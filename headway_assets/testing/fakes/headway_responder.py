"""A responder that answers Headway's own prompts the way a sensible model would.

It parses the request Headway sends (tier-1 `<item id>` blocks, tier-2 taxonomy and item,
insight and match context) and answers with Headway's offline logic, so tests and
benchmarks against the fake LLM servers see realistic, schema-valid, varied answers.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from typing import Any

from headway_assets.offline import OfflineClassifier

from .llm_servers import LLMRequest, default_responder

_ITEM = re.compile(r'<item id="([^"]+)"([^>]*)>\n(.*?)\n</item>', re.S)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_TAXONOMY_LINE = re.compile(r"^- ([a-z0-9/-]+): (.+)$", re.M)


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


def task_of(request: LLMRequest) -> str | None:
    """Which Headway task a request is (`tier1`, `tier2`, `insight`, `match`), from its tool/schema name."""
    name = (request.output_name or "").lower()
    for task, markers in {
        "tier1": ("record_tier1", "tier1batch"),
        "tier2": ("record_tier2", "mentionextraction"),
        "insight": ("record_insight", "insightdraft"),
        "match": ("record_match", "catalogmatch"),
    }.items():
        if name in markers:
            return task
    return None


def request_items(request: LLMRequest) -> list[tuple[str, dict[str, str], str]]:
    """(id, context attributes, text) of every `<item>` of a batched request."""
    return [
        (item_id, {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(attributes)}, text)
        for item_id, attributes, text in _ITEM.findall(request.user_text)
    ]


def tier1_items(request: LLMRequest) -> list[tuple[str, str]]:
    """(id, text) of every item of a tier-1 request."""
    return [(item_id, html.unescape(text)) for item_id, _, text in request_items(request)]


def headway_responder(request: LLMRequest) -> Any:
    """Answer a Headway request with Headway's offline logic (schema-valid by construction)."""
    task = task_of(request)
    if task == "tier1":
        items = tier1_items(request)
        labels = _classifier().classify_many(text for _, text in items)
        return {
            "labels": [{"id": item_id, **label.model_dump()} for (item_id, _), label in zip(items, labels, strict=True)]
        }
    try:
        # Read from the package on every call, so a benchmark may swap in a cached `answer`.
        from headway_assets.offline import answer as offline_answer
    except ImportError:  # the offline tier-2 is not available: a schema-valid default
        return default_responder(request)
    from headway_assets.llm.tasks import InsightInput, MatchCandidate, MatchInput, Tier2Input

    if task == "tier2":
        taxonomy = tuple(_TAXONOMY_LINE.findall(request.user_text))
        answers = []
        for item_id, context, text in request_items(request):
            item = Tier2Input(
                text=text,
                source=context.get("source", "slack"),
                customer=context.get("customer"),
                title=context.get("subject"),
                taxonomy=taxonomy,
            )
            answers.append({"id": item_id, **offline_answer("tier2", item).model_dump(mode="json")})
        return {"items": answers}
    if task == "insight":
        answers = []
        for item_id, context, text in request_items(request):
            asks = tuple(a for a in context.get("asks", "").split("; ") if a)
            insight = InsightInput(
                text=text, source=context.get("source", "slack"), customer=context.get("customer"), mention_titles=asks
            )
            answers.append({"id": item_id, **offline_answer("insight", insight).model_dump(mode="json")})
        return {"items": answers}
    if task == "match":
        new_ask_text, _, candidates_text = request.user_text.partition("\n\nExisting requests:\n")
        new_ask = json.loads(new_ask_text.removeprefix("New ask:\n"))
        candidates = json.loads(candidates_text)
        match = MatchInput(
            title=new_ask["title"],
            description=new_ask["description"],
            sub_theme=new_ask.get("sub_theme"),
            candidates=tuple(MatchCandidate(c["id"], c["title"], c["description"]) for c in candidates),
        )
        return offline_answer("match", match).model_dump(mode="json")
    return default_responder(request)
