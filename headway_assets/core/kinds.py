"""Core types shared by the pipeline and the read API: source names, kinds of asks, tier-1's
categories, the relevance bar.

They live in the kernel (no dagster, no LLM code) so that `headway_api` can name them without
importing `headway_assets.llm`; `headway_assets.llm.schemas` re-exports them for its callers.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

# What kind of ask a tier-2 mention is.
MentionKind = Literal["feature_request", "bug_report", "pain_point", "improvement"]

# Tier-1's categories: what kind of feedback a message is; `other` when it is not feedback.
Tier1Category = Literal["feature_request", "bug_report", "pain_point", "praise", "question", "other"]
TIER1_CATEGORIES: tuple[Tier1Category, ...] = (
    "feature_request",
    "bug_report",
    "pain_point",
    "praise",
    "question",
    "other",
)
NOT_FEEDBACK: Tier1Category = "other"

# Items scoring at least this go on to tier-2, as in the system Headway replaces.
RELEVANCE_THRESHOLD = 6

SourceKind: TypeAlias = str
"""A source's name as the warehouse stores it ("slack", "gmail", ...).

The kernel lists no sources: which names exist is the source registry's business
(`headway_assets/sources/registry.py`), so adding a source never touches core.
"""

# Why a message names a competitor (tier-2's competitor mentions, issue 16 item 4).
CompetitorContext = Literal["switching_from", "switching_to", "comparison", "pricing", "other"]
COMPETITOR_CONTEXTS: tuple[CompetitorContext, ...] = (
    "switching_from",  # the customer left (or is leaving) the competitor for this product
    "switching_to",  # the customer considers leaving this product for the competitor, or chose it
    "comparison",  # a capability compared with the competitor's ("X already does this")
    "pricing",  # price or cost compared with the competitor's
    "other",  # any other mention (they use it too, an integration, a passing reference)
)
