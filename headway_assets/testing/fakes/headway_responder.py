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

from headway_assets.llm.tasks import COMPETITORS_HEADING, TAXONOMY_HEADING
from headway_assets.offline import OfflineClassifier

from .llm_servers import LLMRequest, default_responder

_ITEM = re.compile(r'<item id="([^"]+)"([^>]*)>\n(.*?)\n</item>', re.S)
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_TAXONOMY_LINE = re.compile(r"^- ([a-z0-9/-]+): (.+)$", re.M)
_COMPETITOR_LINE = re.compile(r"^- ([^:\n]+)(?:: (.*))?$", re.M)
_ASK = re.compile(r'<ask id="([^"]+)">\n(.*?)\n</ask>', re.S)
_REQUESTS = re.compile(r"<requests>\n(.*?)\n</requests>", re.S)


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


def task_of(request: LLMRequest) -> str | None:
    """Which Headway task a request is (`tier1`, `tier2`, `insight`, `match`), from its tool/schema name."""
    name = (request.output_name or "").lower()
    for task, markers in {
        "tier1": ("record_tier1", "tier1batch"),
        "tier2": ("record_tier2", "mentionbatch", "mentionextraction"),
        "insight": ("record_insight", "insightbatch", "insightdraft"),
        "match": ("record_match", "matchbatch", "catalogmatch"),
        "call": ("record_call", "callinsightbatch", "callinsightdraft"),
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


def match_items(request: LLMRequest) -> list[tuple[str, Any]]:
    """(id, `MatchInput`) of every `<ask>` of a batched matching request, candidates resolved from
    the shared `<requests>` list (or written out in the ask)."""
    from headway_assets.llm.tasks import MatchCandidate, MatchInput

    def candidate(view: dict[str, Any]) -> MatchCandidate:
        return MatchCandidate(
            id=view["id"],
            title=view["title"],
            description=view.get("description", ""),
            theme=view.get("theme"),
            sub_theme=view.get("sub_theme"),
            examples=tuple(view.get("examples", ())),
        )

    listed = _REQUESTS.search(request.user_text)
    shared: dict[str, dict[str, Any]] = {}
    for line in listed.group(1).splitlines() if listed else []:
        if line.startswith("{"):
            view = json.loads(line)
            shared[view["id"]] = view
    items = []
    for item_id, body in _ASK.findall(request.user_text):
        ask = json.loads(body)
        candidates = tuple(candidate(shared[c] if isinstance(c, str) else c) for c in ask.get("candidates", ()))
        items.append(
            (
                item_id,
                MatchInput(
                    title=ask["title"],
                    description=ask.get("description", ""),
                    sub_theme=ask.get("sub_theme"),
                    candidates=candidates,
                    theme=ask.get("theme"),
                    quote=ask.get("quote", ""),
                    kind=ask.get("kind", ""),
                ),
            )
        )
    return items


def tier2_competitors(prompt: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, aliases) of the competitor block a tier-2 prompt lists (none when it has no block)."""
    if COMPETITORS_HEADING not in prompt:
        return ()
    block = prompt[prompt.find(COMPETITORS_HEADING) :].split("\n\n", 1)[0]
    return tuple(
        (name.strip(), tuple(alias.strip() for alias in (aliases or "").split(",") if alias.strip()))
        for name, aliases in _COMPETITOR_LINE.findall(block)
    )


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
    from headway_assets.llm.schemas import MentionBatch
    from headway_assets.llm.tasks import InsightInput, Tier2Input

    if task == "tier2":
        # The taxonomy block follows the system prompt (a cached block of its own on Anthropic).
        prompt = f"{request.system_text}\n{request.user_text}"
        block = prompt[prompt.find(TAXONOMY_HEADING) :] if TAXONOMY_HEADING in prompt else ""
        taxonomy = tuple(_TAXONOMY_LINE.findall(block.split("\n\n", 1)[0]))
        competitors = tier2_competitors(prompt)
        extractions = []
        for item_id, context, text in request_items(request):
            item = Tier2Input(
                text=text,
                source=context.get("source", "slack"),
                customer=context.get("customer"),
                title=context.get("subject"),
                taxonomy=taxonomy,
                competitors=competitors,
            )
            extractions.append((item_id, offline_answer("tier2", item)))
        return MentionBatch.of(extractions).model_dump(mode="json")
    if task == "insight":
        answers = []
        for item_id, context, text in request_items(request):
            asks = tuple(a for a in context.get("asks", "").split("; ") if a)
            insight = InsightInput(
                text=text, source=context.get("source", "slack"), customer=context.get("customer"), mention_titles=asks
            )
            answers.append({"id": item_id, **offline_answer("insight", insight).model_dump(mode="json")})
        return {"items": answers}
    if task == "call":
        return {"items": [_call_answer(item_id, context, text) for item_id, context, text in request_items(request)]}
    if task == "match":
        return {
            "items": [
                {"id": item_id, **offline_answer("match", item).model_dump(mode="json")}
                for item_id, item in match_items(request)
            ]
        }
    return default_responder(request)


def _call_answer(item_id: str, context: dict[str, str], text: str) -> dict[str, Any]:
    """A call-intelligence answer from the offline heuristics, for the transcript as sent (redacted, excerpted)."""
    from headway_assets.llm.tasks import CallInput
    from headway_assets.offline import answer as offline_answer

    item = CallInput(
        text=text,
        source=context.get("source", "gong"),
        customer=context.get("customer"),
        title=context.get("subject"),
        internal_speakers=tuple(s for s in context.get("vendor_speakers", "").split("; ") if s),
    )
    return {"id": item_id, **offline_answer("call", item).model_dump(mode="json")}
