"""Message response models: the list item, and one message with its labels, mentions and insight."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from headway_api.schemas.common import (
    RANGE_ERROR,
    ListParams,
    PageBase,
    UtcDatetime,
    check_range,
    page_example,
    text_filter,
)
from headway_assets.core.kinds import Tier1Category
from headway_assets.sources.registry import SourceName, source_names

_LABEL_EXAMPLE: JsonDict = {
    "status": "labelled",
    "is_feedback": True,
    "category": "feature_request",
    "relevance": 8,
}
_SUMMARY_EXAMPLE: JsonDict = {
    "id": 1234,
    "source": "slack",
    "external_id": "C024BE91L:1740821400.000200",
    "thread_id": "1740821400.000200",
    "channel": "#customer-acme",
    "author_name": "Dana (Acme)",
    "customer": "Acme Inc.",
    "sent_at": "2025-03-01T09:30:00Z",
    "title": None,
    "text_preview": "Could we export the weekly report as a PDF? Our execs don't log in...",
    "text_length": 182,
    "url": "https://acme.slack.com/archives/C024BE91L/p1740821400000200",
    "label": _LABEL_EXAMPLE,
}

_LABEL_FULL_EXAMPLE: JsonDict = {
    **_LABEL_EXAMPLE,
    "confidence": 0.91,
    "chunk_count": 1,
    "provider": "offline",
    "model": "headway-offline-1",
    "prompt_version": "tier1-v3",
    "error": None,
    "labelled_at": "2025-03-01T10:00:00Z",
    "labelled_by": None,
}
_MENTION_EXAMPLE: JsonDict = {
    "id": 88,
    "ordinal": 0,
    "title": "Export weekly report as PDF",
    "description": "Send the weekly report to executives as a PDF.",
    "problem_statement": "Executives do not log in to the dashboard.",
    "desired_outcome": "A PDF in their inbox every Monday.",
    "kind": "feature_request",
    "urgency": "medium",
    "sentiment": "neutral",
    "theme": "reporting",
    "sub_theme": "reporting/pdf-export",
    "customer": "Acme Inc.",
    "evidence_quote": "Could we export the weekly report as a PDF?",
    "evidence_start": 0,
    "feature_request_id": 17,
}
_INSIGHT_EXAMPLE: JsonDict = {
    "summary": "Acme wants the weekly report e-mailed as a PDF.",
    "sentiment": "neutral",
    "key_topics": ["reporting", "pdf export"],
    "created_at": "2025-03-01T10:05:00Z",
}


class LabelSummary(BaseModel):
    """The tier-1 outcome in brief (null fields until the message is labelled)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LABEL_EXAMPLE]})

    status: str = Field(description="labelled | skipped_oversized | skipped_empty | failed")
    is_feedback: bool | None
    category: str | None = Field(description="feature_request | bug_report | pain_point | praise | question | other")
    relevance: int | None = Field(description="0-10; 6 or more goes on to feature extraction.")


class MessageSummary(BaseModel):
    """A message in a list: metadata, the first characters of its text and its tier-1 label."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int
    source: str = Field(description=" | ".join(source_names()))
    external_id: str = Field(description="The message's id at the source.")
    thread_id: str | None
    channel: str | None
    author_name: str | None
    customer: str | None
    sent_at: datetime
    title: str | None = Field(description="E-mail subject or call title.")
    text_preview: str = Field(description="The first 280 characters of the text.")
    text_length: int
    url: str | None = Field(description="Link to the message at the source.")
    label: LabelSummary | None = Field(description="Null until tier-1 has run on the message's day.")


class MessagePage(PageBase):
    """One page of messages, newest first unless `sort=sent_at`."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_SUMMARY_EXAMPLE)]})

    items: list[MessageSummary]


class MessageLabelOut(BaseModel):
    """The full tier-1 label of a message."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LABEL_FULL_EXAMPLE]})

    status: str
    is_feedback: bool | None
    category: str | None
    relevance: int | None
    confidence: float | None
    chunk_count: int
    provider: str
    model: str
    prompt_version: str
    error: str | None
    labelled_at: datetime
    labelled_by: str | None = Field(
        description="Who labelled the message when a person did (provider `person`): the pipeline keeps that "
        "label. Null for a model's label."
    )


_LABEL_PATCH_EXAMPLE: JsonDict = {"category": "other"}


class MessageLabelPatch(BaseModel):
    """A person's tier-1 label for a message: kept by every later run of the pipeline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [_LABEL_PATCH_EXAMPLE, {"category": "feature_request", "relevance": 9}]},
    )

    category: Tier1Category = Field(description="What the message is; `other` when it is not product feedback.")
    # Strict: JSON `false` is not relevance 0, nor `1` feedback.
    is_feedback: StrictBool | None = Field(
        default=None, description="Follows `category` when omitted (`other` is the only category that is not feedback)."
    )
    relevance: int | None = Field(
        default=None,
        ge=0,
        le=10,
        description="0-10; 6 or more sends the message to feature extraction. Default 8 for feedback, 0 otherwise.",
    )

    @field_validator("relevance", mode="before")
    @classmethod
    def _no_boolean_relevance(cls, value: object) -> object:
        # JSON `false` is no relevance (pydantic would read it as 0); `5.0` is the integer 5.
        if isinstance(value, bool):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return value


class MessageLabelChange(BaseModel):
    """What a label correction did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "audit_id": 41,
                    "message_id": 1234,
                    "label": {**_LABEL_FULL_EXAMPLE, "provider": "person", "labelled_by": "pm@acme.example"},
                    "mentions_removed": 1,
                    "feature_request_ids": [88],
                }
            ]
        }
    )

    audit_id: int = Field(description="The change's row in the audit trail.")
    message_id: int
    label: MessageLabelOut | None = Field(description="The message's label now (null until tier-1 labels it again).")
    mentions_removed: int = Field(description="Mentions of the message taken out of the catalogue (marked noise).")
    feature_request_ids: list[int] = Field(description="Requests recounted because they lost a mention.")


class MessageMentionOut(BaseModel):
    """A feature mention (tier-2) found in the message, with the request it was merged into."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MENTION_EXAMPLE]})

    id: int
    ordinal: int = Field(description="Position among the message's mentions.")
    title: str
    description: str
    problem_statement: str | None
    desired_outcome: str | None
    kind: str
    urgency: str
    sentiment: str
    theme: str | None
    sub_theme: str | None
    customer: str | None
    evidence_quote: str = Field(description="Verbatim substring of the message text.")
    evidence_start: int = Field(description="Offset of the quote in the message text.")
    feature_request_id: int | None = Field(description="The catalogue entry this mention belongs to.")


class MessageInsightOut(BaseModel):
    """The per-message insight (relevant messages only)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INSIGHT_EXAMPLE]})

    summary: str
    sentiment: str
    key_topics: list[str]
    created_at: datetime


class MessageDetail(BaseModel):
    """One message in full, with its tier-1 label, its feature mentions and its insight."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **{k: v for k, v in _SUMMARY_EXAMPLE.items() if k not in ("text_preview", "label")},
                    "text": "Could we export the weekly report as a PDF? Our execs don't log in.",
                    "author_email": "dana@acme.example",
                    "author_is_internal": False,
                    "ingested_at": "2025-03-01T09:45:00Z",
                    "label": _LABEL_FULL_EXAMPLE,
                    "mentions": [_MENTION_EXAMPLE],
                    "insight": _INSIGHT_EXAMPLE,
                }
            ]
        }
    )

    id: int
    source: str
    external_id: str
    thread_id: str | None
    channel: str | None
    author_name: str | None
    author_email: str | None
    author_is_internal: bool | None
    customer: str | None
    sent_at: datetime
    title: str | None
    text: str
    text_length: int
    url: str | None
    ingested_at: datetime
    label: MessageLabelOut | None
    mentions: list[MessageMentionOut] = Field(description="Every feature mention found in the message.")
    insight: MessageInsightOut | None


Tier1CategoryFilter = Literal[
    "feature_request", "bug_report", "pain_point", "praise", "question", "other", "unlabelled"
]


class MessageListParams(ListParams):
    """Filters of the message list (all optional, combined with AND)."""

    source: SourceName | None = Field(default=None, description="Only this source.")
    since: UtcDatetime | None = Field(default=None, description="Sent at or after (ISO 8601; UTC without a zone).")
    until: UtcDatetime | None = Field(default=None, description="Sent before (exclusive).")
    category: Tier1CategoryFilter | None = Field(
        default=None, description="Tier-1 category; `unlabelled` for messages without a labelled outcome."
    )
    min_relevance: int | None = Field(default=None, ge=0, le=10, description="Relevance at least this (0-10).")
    max_relevance: int | None = Field(default=None, ge=0, le=10, description="Relevance at most this (0-10).")
    is_feedback: bool | None = Field(default=None, description="Only feedback (true) or non-feedback (false).")
    customer: str | None = text_filter("Exact customer name.", 255)
    channel: str | None = text_filter("Exact channel (Slack channel, mailbox, ...).", 255)
    thread_id: str | None = text_filter("Only this thread.", 255)
    q: str | None = text_filter("Case-insensitive search in the message text (taken literally, no wildcards).")
    sort: Literal["-sent_at", "sent_at"] = Field(default="-sent_at", description="`-sent_at`: newest first.")

    @model_validator(mode="after")
    def _ranges(self) -> MessageListParams:
        check_range(self.since, self.until)
        if (
            self.min_relevance is not None
            and self.max_relevance is not None
            and self.max_relevance < self.min_relevance
        ):
            raise PydanticCustomError(RANGE_ERROR, "max_relevance must be at least min_relevance")
        return self
