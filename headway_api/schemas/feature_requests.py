"""Feature-request (catalogue) response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict, SkipJsonSchema

from headway_api.schemas.common import MAX_ID, SINGLE_LINE, ListParams, PageBase, UtcDatetime, page_example, text_filter
from headway_assets.core.kinds import MentionKind
from headway_assets.core.warehouse.schema import REQUEST_STATUSES
from headway_assets.sources.registry import SourceName

_SUMMARY_EXAMPLE: JsonDict = {
    "id": 17,
    "key": "export-weekly-report-as-pdf",
    "title": "Export weekly report as PDF",
    "description": "Customers want the weekly report delivered as a PDF.",
    "kind": "feature_request",
    "theme": "reporting",
    "sub_theme": "reporting/pdf-export",
    "mention_count": 23,
    "customer_count": 9,
    "customers": ["Acme Inc.", "Globex"],
    "sources": {"slack": 14, "gong": 9},
    "first_seen": "2025-01-08T15:02:00Z",
    "last_seen": "2025-03-01T09:30:00Z",
    "mentions_last_7d": 6,
    "mentions_prev_7d": 2,
    "trend": "rising",
    "updated_at": "2025-03-02T02:00:00Z",
    "status": "planned",
    "owner": "pm@acme.example",
    "version": 3,
    "merged_into": None,
    "origin": "pipeline",
    "title_locked": True,
    "taxonomy_locked": False,
    "account_count": 3,
    "arr": 412000.0,
    "segments": ["enterprise", "mid-market"],
}
_MENTION_EXAMPLE: JsonDict = {
    "id": 88,
    "message_id": 1234,
    "message_path": "/v1/messages/1234",
    "message_url": "https://acme.slack.com/archives/C024BE91L/p1740821400000200",
    "source": "slack",
    "sent_at": "2025-03-01T09:30:00Z",
    "customer": "Acme Inc.",
    "title": "Export weekly report as PDF",
    "description": "Send the weekly report to executives as a PDF.",
    "problem_statement": "Executives do not log in to the dashboard.",
    "desired_outcome": "A PDF in their inbox every Monday.",
    "urgency": "medium",
    "sentiment": "neutral",
    "evidence_quote": "Could we export the weekly report as a PDF?",
    "match_method": "title_similarity",
    "match_score": 0.93,
}
# Customer names listed on a request; `customer_count` is always the full number.
MAX_LISTED_CUSTOMERS = 50


class FeatureRequestSummary(BaseModel):
    """A canonical, de-duplicated feature request with its counts and trend."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int
    key: str = Field(description="Stable key of the request across catalogue rebuilds.")
    title: str
    description: str
    kind: str
    theme: str | None = Field(description="Theme path in the organisation's taxonomy.")
    sub_theme: str | None = Field(description="Sub-theme path, e.g. `reporting/pdf-export`.")
    mention_count: int
    customer_count: int
    customers: list[str] = Field(description=f"Up to {MAX_LISTED_CUSTOMERS} customer names.")
    sources: dict[str, int] = Field(description="Mentions per source.")
    first_seen: datetime
    last_seen: datetime
    mentions_last_7d: int
    mentions_prev_7d: int
    trend: str = Field(description="new | rising | steady | falling")
    updated_at: datetime
    status: str = Field(description="Triage status: " + " | ".join(REQUEST_STATUSES))
    owner: str | None = Field(description="Who owns the request in triage (free text, usually an e-mail).")
    version: int = Field(description="Bumped by every person's edit; the `ETag`. Send it back in `If-Match`.")
    merged_into: int | None = Field(description="Set on a request merged into another: that request's id.")
    origin: str = Field(description="pipeline | person (a person created it by moving a mention out).")
    title_locked: bool = Field(description="A person set the title or description; the pipeline keeps them.")
    taxonomy_locked: bool = Field(description="A person set the theme or sub-theme; the pipeline keeps them.")
    account_count: int = Field(
        description="Distinct customers (accounts of `/v1/customers`) whose people asked, resolved from the mentions'"
        " authors: two messages of one customer count once. `customer_count` counts the customer names read in"
        " the mentions' text instead."
    )
    arr: float = Field(description="The summed ARR of those customers (a customer without ARR adds 0).")
    segments: list[str] = Field(description="Their distinct segments, sorted.")


class FeatureRequestPage(PageBase):
    """One page of the catalogue."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_SUMMARY_EXAMPLE)]})

    items: list[FeatureRequestSummary]


class FeatureRequestMentionOut(BaseModel):
    """One mention of a request: the evidence quote and a link to the message it came from."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MENTION_EXAMPLE]})

    id: int = Field(description="The mention's id.")
    message_id: int
    message_path: str = Field(description="This API's path of the message: GET it for the full text.")
    message_url: str | None = Field(description="Link to the message at the source.")
    source: str
    sent_at: datetime
    customer: str | None
    title: str
    description: str
    problem_statement: str | None
    desired_outcome: str | None
    urgency: str
    sentiment: str
    evidence_quote: str = Field(description="Verbatim substring of the message text.")
    match_method: str = Field(
        description="How the mention joined the request: new | title_similarity | ai_match | pinned (placed by a"
        " person)"
    )
    match_score: float


class FeatureRequestMentionPage(PageBase):
    """One page of a request's mentions, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_MENTION_EXAMPLE)]})

    items: list[FeatureRequestMentionOut]


class FeatureRequestDetail(FeatureRequestSummary):
    """A feature request with its newest mentions; continue with `/mentions?cursor=mentions_next_cursor`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_SUMMARY_EXAMPLE, "mentions": [_MENTION_EXAMPLE], "mentions_next_cursor": None}]
        }
    )

    mentions: list[FeatureRequestMentionOut]
    mentions_next_cursor: str | None = Field(
        description="Cursor for GET /v1/feature-requests/{id}/mentions; null when all are listed."
    )


RequestStatus = Literal["new", "under_review", "planned", "in_progress", "shipped", "declined"]

FeatureRequestSort = Literal[
    "-mention_count",
    "mention_count",
    "-customer_count",
    "customer_count",
    "-last_seen",
    "last_seen",
    "-first_seen",
    "first_seen",
    "title",
    "-title",
    # Revenue-weighted (issue 16): summed ARR, distinct resolved customers, mentions, 7-day momentum.
    "-arr",
    "arr",
    "-customers",
    "customers",
    "-mentions",
    "mentions",
    "-trend",
    "trend",
]
DealStage = Literal["lead", "qualified", "trial", "proposal", "negotiation", "closed_won", "closed_lost", "churned"]


class FeatureRequestListParams(ListParams):
    """Filters of the catalogue (all optional, combined with AND)."""

    theme: str | None = text_filter("Theme path, e.g. `reporting`.")
    sub_theme: str | None = text_filter("Sub-theme path, e.g. `reporting/pdf-export`.")
    kind: MentionKind | None = Field(default=None, description="Kind of ask.")
    trend: Literal["new", "rising", "steady", "falling"] | None = None
    status: RequestStatus | None = Field(default=None, description="Triage status.")
    owner: str | None = text_filter("Only requests this owner holds (exact).", 320)
    source: SourceName | None = Field(default=None, description="Only requests mentioned in this source.")
    customer: str | None = text_filter("Only requests this customer mentioned (exact name).", 255)
    min_mentions: int | None = Field(default=None, ge=1, le=1_000_000_000, description="At least this many mentions.")
    seen_since: UtcDatetime | None = Field(default=None, description="Last mentioned at or after this time.")
    seen_until: UtcDatetime | None = Field(default=None, description="First mentioned before this time.")
    q: str | None = text_filter("Case-insensitive search in titles (taken literally).")
    segment: str | None = text_filter("Only requests a customer of this segment asked for (exact).", 100)
    plan: str | None = text_filter("Only requests a customer on this plan asked for (exact).", 100)
    deal_stage: DealStage | None = Field(default=None, description="Only requests a customer at this stage asked for.")
    customer_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Only requests this customer (`/v1/customers/{id}`) asked for."
    )
    sort: FeatureRequestSort = Field(
        default="-mention_count",
        description="Sort key; `-` for descending. `arr`: the asking customers' summed ARR; `customers`: distinct"
        " asking customers (`account_count`); `mentions`: as `mention_count`; `trend`: mentions of the last 7 days"
        " minus those of the 7 before.",
    )


class MentionListParams(ListParams):
    """Filters of a feature request's mentions."""

    source: SourceName | None = Field(default=None, description="Only mentions from this source.")
    sort: Literal["-sent_at", "sent_at"] = Field(default="-sent_at", description="`-sent_at`: newest first.")


# --- Triage (writes) ------------------------------------------------------------------------

# Integers in JSON bodies stay within what every JSON parser holds exactly (2^53 - 1): 2^63 - 1 in
# a schema reads back as a float, which lets clients and fuzzers round past the limit.
MAX_BODY_INT = 2**53 - 1


class FeatureRequestPatch(BaseModel):
    """The fields to change; omitted fields stay. Send the version you read in `If-Match` (or `version`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "planned", "owner": "pm@acme.example", "title": "Export as PDF"}]},
    )

    # Optional but never null: omitted leaves them; the schema shows no null and the route refuses it.
    status: RequestStatus | SkipJsonSchema[None] = Field(default=None, description="Triage status.")
    title: Annotated[str, Field(min_length=1, max_length=300, pattern=SINGLE_LINE)] | SkipJsonSchema[None] = None
    description: str | None = Field(default=None, max_length=10_000)
    theme: str | None = Field(
        default=None, max_length=200, pattern=SINGLE_LINE, description="Theme path; null unfiles."
    )
    sub_theme: str | None = Field(
        default=None, max_length=200, pattern=SINGLE_LINE, description="Sub-theme path (its theme follows)."
    )
    owner: str | None = Field(default=None, max_length=320, pattern=SINGLE_LINE, description="null clears it.")
    version: int | None = Field(
        default=None, ge=1, le=MAX_BODY_INT, description="The version you read, if you do not send `If-Match`."
    )


class MergeBody(BaseModel):
    """Merge this request into another."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"into": 42}]})

    into: int = Field(ge=1, le=MAX_BODY_INT, description="The request that receives every mention.")


class MoveBody(BaseModel):
    """Where a mention goes: another request (`to`), or a new request (`to` null and a `title`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"to": 42}, {"to": None, "title": "Retry failed reminders"}]}
    )

    to: int | None = Field(ge=1, le=MAX_BODY_INT, description="The target request; null for a new one.")
    title: str | None = Field(
        default=None, min_length=1, max_length=300, pattern=SINGLE_LINE, description="The new request's title."
    )


class CatalogueChange(BaseModel):
    """A change made: its audit entry (undo it with POST /v1/catalogue/audit/{audit_id}/undo) and
    the requests it touched as they are now (a request the change deleted is not listed)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"audit_id": 12, "feature_requests": [_SUMMARY_EXAMPLE]}]}
    )

    audit_id: int | None = Field(description="null when the change changed nothing.")
    feature_requests: list[FeatureRequestSummary]


_AUDIT_EXAMPLE: JsonDict = {
    "id": 7,
    "feature_request_id": 17,
    "action": "update",
    "actor": "pm@acme.example",
    "created_at": "2025-03-02T10:00:00Z",
    "before": {"status": "new", "version": 2},
    "after": {"status": "planned", "version": 3},
    "undone_by_id": None,
}


class AuditEntry(BaseModel):
    """One change a person made to the catalogue or the taxonomy."""

    model_config = ConfigDict(json_schema_extra={"examples": [_AUDIT_EXAMPLE]})

    id: int
    feature_request_id: int | None = Field(description="null for taxonomy changes.")
    action: str = Field(
        description="update | merge | merged_in | move_mention | mention_moved_in | undo | theme_create |"
        " theme_edit | theme_retire"
    )
    actor: str = Field(description="Who made it (e-mail, or the token's subject).")
    created_at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undone_by_id: int | None = Field(description="The audit entry of the undo, once undone.")


class AuditPage(PageBase):
    """One page of audit entries, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_AUDIT_EXAMPLE)]})

    items: list[AuditEntry]


class AuditListParams(ListParams):
    """Paging of an audit trail."""
