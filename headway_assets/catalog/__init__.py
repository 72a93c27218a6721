"""The catalogue: new feature mentions linked into canonical feature requests.

`linker` decides where each new mention goes (candidate search, one batched judgement by the
offline or an LLM matcher, resolution in canonical order); `model` holds what it works on and the
request statistics. The Dagster asset (`assets/feature_catalog.py`) loads what is new from the
warehouse, runs the linker and writes the links.
"""

from headway_assets.catalog.linker import (
    AI_MATCH,
    BatchMatcher,
    CandidateIndex,
    Linker,
    LinkResult,
    build_catalog,
    engine_matcher,
    match_key,
    matcher_from_function,
)
from headway_assets.catalog.model import (
    METHOD_AI,
    METHOD_NEW,
    METHOD_PINNED,
    METHOD_TITLE,
    CatalogEntry,
    EntryStats,
    MentionRecord,
    RequestState,
    entry_key,
    entry_stats,
    new_request,
    normalise_title,
    trend_of,
)

__all__ = [
    "AI_MATCH",
    "METHOD_AI",
    "METHOD_NEW",
    "METHOD_PINNED",
    "METHOD_TITLE",
    "BatchMatcher",
    "CandidateIndex",
    "CatalogEntry",
    "EntryStats",
    "LinkResult",
    "Linker",
    "MentionRecord",
    "RequestState",
    "build_catalog",
    "engine_matcher",
    "entry_key",
    "entry_stats",
    "match_key",
    "matcher_from_function",
    "new_request",
    "normalise_title",
    "trend_of",
]
