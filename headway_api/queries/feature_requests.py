"""The feature-request catalogue: the list, one request, and its mentions with evidence."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, exists, select

from headway_api.db import PLAN_EACH_EXECUTION, Reader
from headway_api.pagination import AnySelect, KeyKind, SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.text import LIKE_ESCAPE, like_pattern
from headway_api.schemas.feature_requests import (
    MAX_LISTED_CUSTOMERS,
    FeatureRequestListParams,
    MentionListParams,
)
from headway_assets.core.warehouse.schema import (
    Customer,
    FeatureMention,
    FeatureRequest,
    FeatureRequestCustomer,
    FeatureRequestMention,
    Message,
)

FR = FeatureRequest.__table__.c
FM = FeatureMention.__table__.c
FRM = FeatureRequestMention.__table__.c
M = Message.__table__.c
FRC = FeatureRequestCustomer.__table__.c
C = Customer.__table__.c

# A request's 7-day momentum, the `trend` sort: read from the row, no index (a catalogue is
# thousands of requests, sorted in memory by the database).
MOMENTUM = (FR.mentions_last_7d - FR.mentions_prev_7d).label("momentum")
_SORT_COLUMNS: dict[str, tuple[Any, KeyKind]] = {
    "mention_count": (FR.mention_count, "int"),
    "customer_count": (FR.customer_count, "int"),
    "last_seen": (FR.last_seen, "datetime"),
    "first_seen": (FR.first_seen, "datetime"),
    "title": (FR.title, "str"),
    # Revenue-weighted (issue 16); `arr` and `customers` seek their (org_id, column, id) indexes.
    "arr": (FR.arr_cents, "int"),
    "customers": (FR.account_count, "int"),
    "mentions": (FR.mention_count, "int"),
    "trend": (MOMENTUM, "int"),
}
FEATURE_REQUEST_SORTS: dict[str, SortKey] = {
    f"{'-' if descending else ''}{name}": SortKey(
        f"{'-' if descending else ''}{name}",
        (column, FR.id),
        (kind, "int"),
        descending=descending,
        listing="feature-requests",
    )
    for name, (column, kind) in _SORT_COLUMNS.items()
    for descending in (True, False)
}
MENTION_SORTS: dict[str, SortKey] = {
    "-sent_at": SortKey("-sent_at", (FM.sent_at, FM.id), ("datetime", "int"), descending=True, listing="mentions"),
    "sent_at": SortKey("sent_at", (FM.sent_at, FM.id), ("datetime", "int"), descending=False, listing="mentions"),
}
SUMMARY_COLUMNS = (
    FR.id,
    FR.key,
    FR.title,
    FR.description,
    FR.kind,
    FR.theme,
    FR.sub_theme,
    FR.mention_count,
    FR.customer_count,
    FR.customers,
    FR.sources,
    FR.first_seen,
    FR.last_seen,
    FR.mentions_last_7d,
    FR.mentions_prev_7d,
    FR.trend,
    FR.updated_at,
    FR.status,
    FR.owner,
    FR.version,
    FR.merged_into_id.label("merged_into"),
    FR.origin,
    FR.title_locked,
    FR.taxonomy_locked,
    FR.account_count,
    FR.arr_cents,
    FR.segments,
)


def _mention_exists(condition: Any) -> Any:
    return exists(
        select(FRM.mention_id)
        .select_from(FeatureRequestMention.__table__.join(FeatureMention.__table__, FM.id == FRM.mention_id))
        .where(FRM.feature_request_id == FR.id, FRM.org_id == bindparam("org_id"), condition)
    )


def _asked_by(condition: Any) -> Any:
    """Requests one of whose resolved customers (`feature_request_customers`) meets `condition`."""
    return exists(
        select(FRC.customer_id)
        .select_from(FeatureRequestCustomer.__table__.join(Customer.__table__, C.id == FRC.customer_id))
        .where(FRC.feature_request_id == FR.id, FRC.org_id == bindparam("org_id"), C.org_id == bindparam("org_id"))
        .where(condition)
    )


# How each filter narrows the catalogue; its value is bound as the parameter of the same name.
_CONDITIONS: dict[str, Any] = {
    "theme": lambda: FR.theme == bindparam("theme"),
    "sub_theme": lambda: FR.sub_theme == bindparam("sub_theme"),
    "kind": lambda: FR.kind == bindparam("kind"),
    "trend": lambda: FR.trend == bindparam("trend"),
    "status": lambda: FR.status == bindparam("status"),
    "owner": lambda: FR.owner == bindparam("owner"),
    "min_mentions": lambda: FR.mention_count >= bindparam("min_mentions"),
    "seen_since": lambda: FR.last_seen >= bindparam("seen_since"),
    "seen_until": lambda: FR.first_seen < bindparam("seen_until"),
    "source": lambda: _mention_exists(FM.source == bindparam("source")),
    "customer": lambda: _mention_exists(FM.customer == bindparam("customer")),
    "q": lambda: FR.title.ilike(bindparam("q"), escape=LIKE_ESCAPE),
    # Read from the customers at query time: a PATCHed segment or stage filters at once.
    "segment": lambda: _asked_by(C.segment == bindparam("segment")),
    "plan": lambda: _asked_by(C.plan == bindparam("plan")),
    "deal_stage": lambda: _asked_by(C.deal_stage == bindparam("deal_stage")),
    "customer_id": lambda: exists(
        select(FRC.customer_id).where(
            FRC.feature_request_id == FR.id,
            FRC.org_id == bindparam("org_id"),
            FRC.customer_id == bindparam("customer_id"),
        )
    ),
}


@lru_cache(maxsize=512)
def _list_statement(shape: tuple[str, ...], sort_name: str, with_cursor: bool) -> AnySelect:
    # Merged requests (tombstones) are not listed; GET by id still shows where they went.
    columns = (*SUMMARY_COLUMNS, MOMENTUM) if sort_name.lstrip("-") == "trend" else SUMMARY_COLUMNS
    query = select(*columns).where(FR.org_id == bindparam("org_id"), FR.merged_into_id.is_(None))
    for name in shape:
        query = query.where(_CONDITIONS[name]())
    return paginate(query, FEATURE_REQUEST_SORTS[sort_name], with_cursor=with_cursor)


def feature_request_list_query(org_id: int, params: FeatureRequestListParams) -> tuple[AnySelect, dict[str, Any]]:
    """The statement and bound values of one page of the organisation's catalogue."""
    values = params.filters()
    if "q" in values:
        values["q"] = like_pattern(values["q"])
    statement = _list_statement(tuple(sorted(values)), params.sort, params.cursor is not None)
    sort = FEATURE_REQUEST_SORTS[params.sort]
    return statement, {"org_id": org_id, **values, **page_params(sort, params.cursor, params.limit)}


def summary_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A catalogue row (a dict) as a `FeatureRequestSummary` document (customers capped, sources as counts)."""
    customers = fields["customers"]
    names = customers.get("names") if isinstance(customers, dict) else None
    fields["customers"] = [str(name) for name in names[:MAX_LISTED_CUSTOMERS]] if isinstance(names, list) else []
    sources = fields["sources"] if isinstance(fields["sources"], dict) else {}
    fields["sources"] = {str(key): value for key, value in sources.items() if isinstance(value, int)}
    fields.pop("momentum", None)  # the `trend` sort's key, not a field
    cents = fields.pop("arr_cents")
    segments = fields.pop("segments")
    fields["arr"] = (cents or 0) / 100
    names = segments.get("names") if isinstance(segments, dict) else None
    fields["segments"] = [str(name) for name in names] if isinstance(names, list) else []
    return fields


# The values the revenue filters name must exist in the organisation: an unknown one is a 400,
# not an empty page that reads as "nobody asked".
_KNOWN_VALUE: dict[str, Any] = {
    "segment": C.segment,
    "plan": C.plan,
    "deal_stage": C.deal_stage,
    "customer_id": C.id,
}


async def unknown_filters(db: Reader, org_id: int, params: FeatureRequestListParams) -> list[tuple[str, Any]]:
    """The revenue filters of `params` whose value no customer of the organisation has (ids of other
    organisations included), as (name, value)."""
    unknown: list[tuple[str, Any]] = []
    for name in _KNOWN_VALUE:
        value = getattr(params, name)
        if value is None:
            continue
        found = await db.rows(_known_statement(name), {"org_id": org_id, "value": value})
        if not found:
            unknown.append((name, value))
    return unknown


@lru_cache(maxsize=8)
def _known_statement(name: str) -> AnySelect:
    column = _KNOWN_VALUE[name]
    return select(C.id).where(C.org_id == bindparam("org_id"), column == bindparam("value")).limit(1)


async def list_feature_requests(db: Reader, org_id: int, params: FeatureRequestListParams) -> dict[str, Any]:
    """One page of the organisation's feature requests (a `FeatureRequestPage` document)."""
    statement, values = feature_request_list_query(org_id, params)
    rows = await db.dicts(statement, values)
    sort = FEATURE_REQUEST_SORTS[params.sort]
    page, next_cursor = page_of(rows, sort, params.limit)
    return page_document([summary_fields(row) for row in page], next_cursor)


@lru_cache(maxsize=16)
def _mention_statement(with_source: bool, sort_name: str, with_cursor: bool) -> AnySelect:
    # The page is chosen from the request's mentions first and joined to its messages after, so a
    # request with thousands of mentions looks up one page of messages, not all of them.
    page = select(
        FM.id,
        FM.message_id,
        FM.source,
        FM.sent_at,
        FM.customer,
        FM.title,
        FM.description,
        FM.problem_statement,
        FM.desired_outcome,
        FM.urgency,
        FM.sentiment,
        FM.evidence_quote,
        FRM.match_method,
        FRM.match_score,
    ).select_from(FeatureRequestMention.__table__.join(FeatureMention.__table__, FM.id == FRM.mention_id))
    page = page.where(
        FRM.feature_request_id == bindparam("feature_request_id"),
        FRM.org_id == bindparam("org_id"),
        FM.org_id == bindparam("org_id"),
    )
    if with_source:
        page = page.where(FM.source == bindparam("source"))
    chosen = paginate(page, MENTION_SORTS[sort_name], with_cursor=with_cursor).subquery("page")
    order = [chosen.c.sent_at, chosen.c.id]
    return (
        select(chosen, M.url.label("message_url"))
        .select_from(chosen.join(Message.__table__, M.id == chosen.c.message_id))
        .order_by(*(column.desc() if sort_name.startswith("-") else column.asc() for column in order))
        # Mention counts are skewed (a handful of requests hold most mentions): the plan for a
        # request with 1,300 mentions (walk the organisation's newest mentions) is wrong for one
        # with 10 (walk its own), so PostgreSQL plans each execution rather than reusing the
        # generic plan of a prepared statement (0.7 ms against 3.2 ms for the busiest request).
        .execution_options(**{PLAN_EACH_EXECUTION: True})
    )


def mention_list_query(
    org_id: int, feature_request_id: int, params: MentionListParams
) -> tuple[AnySelect, dict[str, Any]]:
    """The statement and bound values of one page of a request's mentions."""
    statement = _mention_statement(params.source is not None, params.sort, params.cursor is not None)
    values: dict[str, Any] = {"org_id": org_id, "feature_request_id": feature_request_id}
    if params.source is not None:
        values["source"] = params.source
    return statement, {**values, **page_params(MENTION_SORTS[params.sort], params.cursor, params.limit)}


def _mention_item(row: Any) -> dict[str, Any]:
    # By position in the SELECT; the document in `FeatureRequestMentionOut`'s field order.
    (
        mention_id,
        message_id,
        source,
        sent_at,
        customer,
        title,
        description,
        problem_statement,
        desired_outcome,
        urgency,
        sentiment,
        evidence_quote,
        match_method,
        match_score,
        message_url,
    ) = row
    return {
        "id": mention_id,
        "message_id": message_id,
        "message_path": f"/v1/messages/{message_id}",
        "message_url": message_url,
        "source": source,
        "sent_at": sent_at,
        "customer": customer,
        "title": title,
        "description": description,
        "problem_statement": problem_statement,
        "desired_outcome": desired_outcome,
        "urgency": urgency,
        "sentiment": sentiment,
        "evidence_quote": evidence_quote,
        "match_method": match_method,
        "match_score": match_score,
    }


def _mention_key(row: Any) -> tuple[Any, Any]:
    return row[3], row[0]  # (sent_at, id), by position in the SELECT


async def _mention_page(
    db: Reader, org_id: int, feature_request_id: int, params: MentionListParams
) -> tuple[list[dict[str, Any]], str | None]:
    statement, values = mention_list_query(org_id, feature_request_id, params)
    rows = await db.rows(statement, values)
    page, next_cursor = page_of(rows, MENTION_SORTS[params.sort], params.limit, _mention_key)
    return [_mention_item(row) for row in page], next_cursor


REQUEST_BY_ID = select(*SUMMARY_COLUMNS).where(
    FR.id == bindparam("feature_request_id"), FR.org_id == bindparam("org_id")
)


async def get_feature_request(
    db: Reader, org_id: int, feature_request_id: int, mentions_limit: int
) -> dict[str, Any] | None:
    """One request of the organisation with its newest mentions; None if not the org's."""
    row = await db.dict_or_none(REQUEST_BY_ID, {"feature_request_id": feature_request_id, "org_id": org_id})
    if row is None:
        return None
    params = MentionListParams(limit=mentions_limit)
    mentions, next_cursor = await _mention_page(db, org_id, feature_request_id, params)
    return {**summary_fields(row), "mentions": mentions, "mentions_next_cursor": next_cursor}


async def list_feature_request_mentions(
    db: Reader, org_id: int, feature_request_id: int, params: MentionListParams
) -> dict[str, Any] | None:
    """One page of a request's mentions; None if the request is not the org's."""
    found = await db.rows(REQUEST_BY_ID, {"feature_request_id": feature_request_id, "org_id": org_id})
    if not found:
        return None
    items, next_cursor = await _mention_page(db, org_id, feature_request_id, params)
    return page_document(items, next_cursor)
