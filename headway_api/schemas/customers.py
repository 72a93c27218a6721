"""Customers: the list's parameters, a customer, its detail, the writes and the import's report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictStr

from headway_api.schemas.common import SINGLE_LINE, ListParams, PageBase, page_example, text_filter
from headway_api.schemas.feature_requests import MAX_BODY_INT
from headway_assets.core.warehouse.customer_import import FIELD_LIMITS

_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "name": "Globex",
    "arr": 120000.0,
    "mrr": 10000.0,
    "plan": "Enterprise",
    "segment": "enterprise",
    "deal_stage": "closed_won",
    "renewal_date": "2027-03-31",
    "owner": "ana@example.com",
    "external_id": "hs-1001",
    "auto_created": False,
    "created_at": "2026-03-01T09:30:00Z",
    "updated_at": "2026-03-02T10:00:00Z",
}
_DETAIL_EXAMPLE: dict[str, Any] = _SUMMARY_EXAMPLE | {
    "domains": ["globex.com"],
    "contact_count": 7,
    "message_count": 31,
    "last_message_at": "2026-03-05T16:20:00Z",
    "ask_count": 1,
    "asks": [
        {
            "feature_request_id": 17,
            "title": "Export weekly report as PDF",
            "status": "planned",
            "mentions": 4,
            "account_count": 3,
            "arr": 412000.0,
        }
    ],
}


def _date_text(value: Any) -> Any:
    """Refuse anything but text (or a date) for a date field."""
    if value is not None and not isinstance(value, str | date):
        raise ValueError("give the date as text, YYYY-MM-DD")
    return value


class CustomerListParams(ListParams):
    """Filters of GET /v1/customers (ordered by name, then id)."""

    segment: str | None = text_filter("Only customers of this segment (exact).", 100)
    plan: str | None = text_filter("Only customers on this plan (exact).", 100)
    deal_stage: str | None = text_filter("Only customers at this deal stage (`closed_won`, ...).", 32)
    auto_created: bool | None = Field(
        default=None, description="Only customers the resolution auto-created (true) or not (false)."
    )
    q: str | None = text_filter("Only customers whose name contains this text (case-insensitive).", 255)


class CustomerSummary(BaseModel):
    """A customer as listed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    id: int
    name: str
    arr: float | None
    mrr: float | None
    plan: str | None
    segment: str | None
    deal_stage: str | None
    renewal_date: date | None
    owner: str | None
    external_id: str | None
    auto_created: bool = Field(description="Created by the resolution from an unknown domain; to review.")
    created_at: datetime
    updated_at: datetime


class CustomerPage(PageBase):
    """A page of customers."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_SUMMARY_EXAMPLE)]})

    items: list[CustomerSummary]


# Asks listed on a customer; `ask_count` is always the full number.
MAX_LISTED_ASKS = 50


class CustomerAsk(BaseModel):
    """A feature request this customer's people asked for."""

    feature_request_id: int
    title: str
    status: str = Field(description="The request's triage status.")
    mentions: int = Field(description="The request's mentions written by this customer's people.")
    account_count: int = Field(description="Distinct customers who asked for the request.")
    arr: float = Field(description="Their summed ARR.")


class CustomerDetail(CustomerSummary):
    """One customer with its domains, activity and asks."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DETAIL_EXAMPLE]})

    domains: list[str]
    contact_count: int
    message_count: int = Field(description="Messages whose author resolved to this customer.")
    last_message_at: datetime | None
    ask_count: int = Field(description="Feature requests this customer's people asked for.")
    asks: list[CustomerAsk] = Field(
        description=f"Up to {MAX_LISTED_ASKS} of them, those they mentioned most first; GET"
        " /v1/feature-requests?customer_id= lists them all."
    )


class CustomerFields(BaseModel):
    """The editable fields; checked by the same rules as `headway customers import`."""

    model_config = ConfigDict(extra="forbid")

    arr: StrictFloat | StrictStr | None = Field(
        default=None, description="Annual recurring revenue: 120000, `$120k`, `1.2M`."
    )
    mrr: StrictFloat | StrictStr | None = Field(
        default=None, description="Monthly recurring revenue, written like `arr`."
    )
    plan: str | None = Field(default=None, max_length=FIELD_LIMITS["plan"], pattern=SINGLE_LINE)
    segment: str | None = Field(default=None, max_length=FIELD_LIMITS["segment"], pattern=SINGLE_LINE)
    deal_stage: str | None = Field(default=None, max_length=1000, pattern=SINGLE_LINE)
    # Text only: lax mode would read the number 0 as 1970-01-01.
    renewal_date: Annotated[date, BeforeValidator(_date_text)] | None = None
    owner: str | None = Field(default=None, max_length=FIELD_LIMITS["owner"], pattern=SINGLE_LINE)
    external_id: str | None = Field(default=None, max_length=FIELD_LIMITS["external_id"], pattern=SINGLE_LINE)
    domains: list[str] | None = Field(
        default=None, max_length=100, description="The customer's e-mail domains (the whole set; none free-mail)."
    )


class CustomerCreate(CustomerFields):
    """A new customer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Globex", "arr": "$120k", "deal_stage": "Closed Won", "domains": ["globex.com"]}]
        },
    )

    name: str = Field(max_length=FIELD_LIMITS["name"], pattern=SINGLE_LINE)


class CustomerPatch(CustomerFields):
    """Fields to change; omitted ones stay, null clears (not `name`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"arr": 150000, "deal_stage": "negotiation", "plan": None}]}
    )

    name: str | None = Field(default=None, max_length=FIELD_LIMITS["name"], pattern=SINGLE_LINE)


class CustomerMergeBody(BaseModel):
    """Merge this customer into another of your organisation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"into": 42}]})

    into: int = Field(
        ge=1,
        le=MAX_BODY_INT,
        description="The customer that is kept: it receives the contacts, domains, Slack Connect teams and"
        " messages, and keeps its own name, ARR and other CRM fields.",
    )


class RejectedRowModel(BaseModel):
    """A row of the file that was not imported."""

    line: int = Field(description="Its line in the file (the header is line 1).")
    reason: str


class CustomerImportReport(BaseModel):
    """What an import did; the good rows landed whatever the rejected ones were."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rows": 3,
                    "created": 1,
                    "updated": 1,
                    "merged": 0,
                    "rejected": [{"line": 3, "reason": "ARR is not an amount"}],
                }
            ]
        }
    )

    rows: int
    created: int
    updated: int
    merged: int = Field(description="Auto-created customers folded into an imported one.")
    rejected: list[RejectedRowModel]
