"""Structured outputs every LLM provider must return, validated with pydantic.

These models are the contract between the prompts, the providers (Anthropic tool use,
OpenAI JSON-schema structured outputs, the offline classifier) and the warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Re-exported: the kernel owns these so the read API can use them without importing llm.
from headway_assets.core.kinds import COMPETITOR_CONTEXTS as COMPETITOR_CONTEXTS
from headway_assets.core.kinds import RELEVANCE_THRESHOLD as RELEVANCE_THRESHOLD
from headway_assets.core.kinds import TIER1_CATEGORIES as TIER1_CATEGORIES
from headway_assets.core.kinds import CompetitorContext as CompetitorContext
from headway_assets.core.kinds import MentionKind as MentionKind
from headway_assets.core.kinds import Tier1Category as Tier1Category


class Tier1Label(BaseModel):
    """Is this text product feedback, of which kind, and how relevant (0-10)."""

    model_config = ConfigDict(extra="forbid")

    is_feedback: bool = Field(description="True when the text is feedback about the product.")
    category: Tier1Category = Field(description="What kind of feedback; `other` when it is not feedback.")
    relevance: int = Field(ge=0, le=10, description="0 = noise, 10 = a clear, actionable product ask.")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure the classifier is of the category.")


class Tier1BatchItem(Tier1Label):
    """One labelled item of a batch, tied back to the item by its position id."""

    id: str = Field(description="The id given with the item in the request.")


class Tier1Batch(BaseModel):
    """Labels for every item of a batched tier-1 request, each carrying the item's id."""

    model_config = ConfigDict(extra="forbid")

    labels: list[Tier1BatchItem]


Urgency = Literal["low", "medium", "high", "critical"]
Sentiment = Literal["positive", "neutral", "negative"]


class MentionDraft(BaseModel):
    """Tier-2: one structured ask found in a message, as the model returns it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(
        min_length=3,
        max_length=120,
        description="What is wanted, as a short imperative or noun phrase ('Retry failed appointment reminders'); "
        "never the complaint.",
    )
    description: str = Field(max_length=1000, description="What the customer asks for, in one or two sentences.")
    problem_statement: str | None = Field(default=None, max_length=1000, description="The problem behind the ask.")
    desired_outcome: str | None = Field(default=None, max_length=1000, description="What success looks like.")
    kind: MentionKind
    urgency: Urgency
    sentiment: Sentiment
    theme: str | None = Field(default=None, description="Theme path from the organisation's taxonomy.")
    sub_theme: str | None = Field(default=None, description="Sub-theme path from the organisation's taxonomy.")
    evidence_quote: str = Field(
        min_length=8, max_length=600, description="A verbatim substring of the message that supports the ask."
    )


class CompetitorMentionDraft(BaseModel):
    """Tier-2: a listed competitor named in a message, why, and the verbatim evidence."""

    model_config = ConfigDict(extra="forbid")

    competitor: str = Field(
        min_length=1, max_length=120, description="The competitor's name exactly as the organisation lists it."
    )
    context: CompetitorContext = Field(
        description="switching_from (leaving it for us), switching_to (considering or choosing it over us), "
        "comparison (a capability compared), pricing (price or cost compared), other."
    )
    evidence_quote: str = Field(
        min_length=8, max_length=600, description="A verbatim substring of the message that names the competitor."
    )


class MentionExtraction(BaseModel):
    """Every ask found in one message (possibly none), and the listed competitors it names."""

    model_config = ConfigDict(extra="forbid")

    mentions: list[MentionDraft] = Field(max_length=8)
    competitors: list[CompetitorMentionDraft] = Field(default_factory=list, max_length=8)


class InsightDraft(BaseModel):
    """Per-message insight: a one-line summary, the sentiment and the key topics."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=3, max_length=400)
    sentiment: Sentiment
    key_topics: list[str] = Field(max_length=6)


class CatalogMatch(BaseModel):
    """Which existing feature request (if any) a new mention asks for, and how sure."""

    model_config = ConfigDict(extra="forbid")

    candidate_id: str | None = Field(description="Id of the matching candidate, or null when none matches.")
    score: float = Field(ge=0.0, le=1.0, description="0 = unrelated, 1 = the same ask.")
    also_same: list[str] = Field(
        default_factory=list,
        description="Ids of the other candidates that are the same ask too (the catalogue then merges them).",
    )


class MentionBatchItem(BaseModel):
    """The asks of one item of a batched tier-2 request."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The id given with the item in the request.")
    mentions: list[MentionDraft] = Field(max_length=8)


class CompetitorMentionBatchItem(CompetitorMentionDraft):
    """A listed competitor named by one item of a batched tier-2 request, tied back to it by its id."""

    id: str = Field(description="The id of the item that names the competitor.")


class MentionBatch(BaseModel):
    """Tier-2 answers for every item of a batched request. The competitors are one list for the whole
    request (each entry with its item's id), not one per item: most items name none, and an empty
    list per item was most of what the competitor block cost (tier2-v6, docs/benchmarks.md)."""

    model_config = ConfigDict(extra="forbid")

    items: list[MentionBatchItem]
    competitors: list[CompetitorMentionBatchItem] = Field(
        default_factory=list, description="Every listed competitor any item names, with that item's id; often none."
    )

    @classmethod
    def of(cls, answers: Sequence[tuple[str, MentionExtraction]]) -> MentionBatch:
        """The batched answer holding each (item id, extraction) of `answers`."""
        return cls(
            items=[MentionBatchItem(id=item_id, mentions=answer.mentions) for item_id, answer in answers],
            competitors=[
                CompetitorMentionBatchItem(id=item_id, **found.model_dump())
                for item_id, answer in answers
                for found in answer.competitors
            ],
        )

    def per_item(self) -> dict[str, MentionExtraction]:
        """Each item's extraction: its asks and the competitors listed with its id (at most eight; an
        entry naming an id that is not an item of the answer is dropped)."""
        named: dict[str, list[CompetitorMentionDraft]] = {}
        for entry in self.competitors:
            named.setdefault(entry.id, []).append(CompetitorMentionDraft(**entry.model_dump(exclude={"id"})))
        return {
            item.id: MentionExtraction(mentions=item.mentions, competitors=named.get(item.id, [])[:8])
            for item in self.items
        }


class InsightBatchItem(InsightDraft):
    """The insight of one item of a batched request."""

    id: str = Field(description="The id given with the item in the request.")


class InsightBatch(BaseModel):
    """Insights for every item of a batched request."""

    model_config = ConfigDict(extra="forbid")

    items: list[InsightBatchItem]


class MatchBatchItem(BaseModel):
    """The match of one new ask of a batched matching request."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The id given with the new ask in the request.")
    candidate_id: str | None = Field(
        description="Id of the candidate request that is the same ask, from this ask's own candidates; null when none."
    )
    score: float = Field(ge=0.0, le=1.0, description="0 = unrelated, 1 = the same ask.")
    also_same: list[str] = Field(
        default_factory=list,
        description="Ids of this ask's OTHER candidates that are the same ask as well (two requests the catalogue "
        "kept apart); empty in most answers.",
    )


class MatchBatch(BaseModel):
    """Catalogue matches for every new ask of a batched request."""

    model_config = ConfigDict(extra="forbid")

    items: list[MatchBatchItem]


# -- call intelligence (issue 16, item 5) ------------------------------------------------------

RiskLevel = Literal["low", "medium", "high"]


class CallReason(BaseModel):
    """Why a call got a level: a short reason and the verbatim passage of the call behind it."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=300, description="One short sentence: why this level.")
    quote: str = Field(
        min_length=8, max_length=400, description="A verbatim substring of the transcript that supports the reason."
    )


class CallAssessment(BaseModel):
    """One dimension of a call (deal risk, churn risk or expansion potential): a level and its reasons."""

    model_config = ConfigDict(extra="forbid")

    level: RiskLevel
    reasons: list[CallReason] = Field(max_length=2, description="At most two; empty when the level is low.")

    @field_validator("reasons", mode="before")
    @classmethod
    def _strongest_two(cls, value: Any) -> Any:
        """Keep the first two reasons of an answer that gave more: the prompt asks for the strongest
        first, and a retry for a third reason would cost a whole request."""
        return value[:2] if isinstance(value, list) else value


class CallNextStep(BaseModel):
    """A follow-up someone on the call committed to, with the passage where they said it."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=3, max_length=200, description="What will be done, as a short phrase.")
    owner: Literal["vendor", "customer", "unknown"] = Field(description="Who said they would do it.")
    quote: str = Field(min_length=8, max_length=400, description="A verbatim substring of the transcript.")


class CallInsightDraft(BaseModel):
    """Call intelligence for one sales or success call."""

    model_config = ConfigDict(extra="forbid")

    deal_risk: CallAssessment = Field(description="Risk that an open deal or renewal slips, shrinks or is lost.")
    churn_risk: CallAssessment = Field(description="Risk that the customer leaves or stops using the product.")
    expansion_potential: CallAssessment = Field(description="Chance of more seats, teams, plan upgrades or usage.")
    next_steps: list[CallNextStep] = Field(max_length=6)


class CallInsightBatchItem(CallInsightDraft):
    """The call intelligence of one item of a request, tied back to it by its id."""

    id: str = Field(description="The id given with the item in the request.")


class CallInsightBatch(BaseModel):
    """Call intelligence for every item of a request (several calls per request)."""

    model_config = ConfigDict(extra="forbid")

    items: list[CallInsightBatchItem]
