"""Messages: the filtered, keyset-paginated list and one message in full."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select

from headway_api.db import Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.text import LIKE_ESCAPE, like_pattern
from headway_api.schemas.messages import MessageListParams
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequestMention,
    LabelStatus,
    Message,
    MessageInsight,
    MessageLabel,
)

M = Message.__table__.c
L = MessageLabel.__table__.c
FM = FeatureMention.__table__.c
FRM = FeatureRequestMention.__table__.c
MI = MessageInsight.__table__.c

PREVIEW_CHARS = 280
UNLABELLED = "unlabelled"
# A message yields a handful of mentions; the cap only guards against a runaway extraction.
MAX_MESSAGE_MENTIONS = 100

MESSAGE_SORTS: dict[str, SortKey] = {
    "-sent_at": SortKey("-sent_at", (M.sent_at, M.id), ("datetime", "int"), descending=True, listing="messages"),
    "sent_at": SortKey("sent_at", (M.sent_at, M.id), ("datetime", "int"), descending=False, listing="messages"),
}
LABELLED = L.status == LabelStatus.LABELLED.value
# How each filter narrows the list; its value is bound as the parameter of the same name.
_CONDITIONS: dict[str, Any] = {
    "source": lambda: M.source == bindparam("source"),
    "since": lambda: M.sent_at >= bindparam("since"),
    "until": lambda: M.sent_at < bindparam("until"),
    "customer": lambda: M.customer == bindparam("customer"),
    "channel": lambda: M.channel == bindparam("channel"),
    "thread_id": lambda: M.thread_id == bindparam("thread_id"),
    "category": lambda: and_(LABELLED, L.category == bindparam("category")),
    "category=unlabelled": lambda: or_(L.message_id.is_(None), L.status != LabelStatus.LABELLED.value),
    "min_relevance": lambda: and_(LABELLED, L.relevance >= bindparam("min_relevance")),
    "max_relevance": lambda: and_(LABELLED, L.relevance <= bindparam("max_relevance")),
    "is_feedback": lambda: and_(LABELLED, L.is_feedback == bindparam("is_feedback")),
    "q": lambda: M.text.ilike(bindparam("q"), escape=LIKE_ESCAPE),
}


@lru_cache(maxsize=512)
def _list_statement(shape: tuple[str, ...], sort_name: str, with_cursor: bool) -> AnySelect:
    # One statement per combination of filters: built once, executed with bound values.
    query = (
        select(
            M.id,
            M.source,
            M.external_id,
            M.thread_id,
            M.channel,
            M.author_name,
            M.customer,
            M.sent_at,
            M.title,
            func.substr(M.text, 1, PREVIEW_CHARS).label("text_preview"),
            M.text_length,
            M.url,
            L.status.label("label_status"),
            L.is_feedback,
            L.category,
            L.relevance,
        )
        .select_from(Message.__table__.outerjoin(MessageLabel.__table__, L.message_id == M.id))
        .where(M.org_id == bindparam("org_id"))
    )
    for name in shape:
        query = query.where(_CONDITIONS[name]())
    return paginate(query, MESSAGE_SORTS[sort_name], with_cursor=with_cursor)


def message_list_query(org_id: int, params: MessageListParams) -> tuple[AnySelect, dict[str, Any]]:
    """The statement and bound values of one page of the organisation's messages."""
    sort = MESSAGE_SORTS[params.sort]
    values = params.filters()
    if values.get("category") == UNLABELLED:
        del values["category"]
        values["category=unlabelled"] = True
    if "q" in values:
        values["q"] = like_pattern(values["q"])
    statement = _list_statement(tuple(sorted(values)), params.sort, params.cursor is not None)
    bound = {name: value for name, value in values.items() if not name.startswith("category=")}
    return statement, {"org_id": org_id, **bound, **page_params(sort, params.cursor, params.limit)}


def _item(row: Any) -> dict[str, Any]:
    # Unpacked by position (the SELECT's order): a page is built row by row on every request.
    (
        message_id,
        source,
        external_id,
        thread_id,
        channel,
        author_name,
        customer,
        sent_at,
        title,
        text_preview,
        text_length,
        url,
        status,
        is_feedback,
        category,
        relevance,
    ) = row
    return {
        "id": message_id,
        "source": source,
        "external_id": external_id,
        "thread_id": thread_id,
        "channel": channel,
        "author_name": author_name,
        "customer": customer,
        "sent_at": sent_at,
        "title": title,
        "text_preview": text_preview,
        "text_length": text_length,
        "url": url,
        "label": (
            None
            if status is None
            else {"status": status, "is_feedback": is_feedback, "category": category, "relevance": relevance}
        ),
    }


def _message_key(row: Any) -> tuple[Any, Any]:
    return row[7], row[0]  # (sent_at, id), by position in the SELECT


async def list_messages(db: Reader, org_id: int, params: MessageListParams) -> dict[str, Any]:
    """One page of the organisation's messages (a `MessagePage` document)."""
    statement, values = message_list_query(org_id, params)
    rows = await db.rows(statement, values)
    page, next_cursor = page_of(rows, MESSAGE_SORTS[params.sort], params.limit, _message_key)
    return page_document([_item(row) for row in page], next_cursor)


_MESSAGE = select(
    M.id,
    M.source,
    M.external_id,
    M.thread_id,
    M.channel,
    M.author_name,
    M.author_email,
    M.author_is_internal,
    M.customer,
    M.sent_at,
    M.title,
    M.text,
    M.text_length,
    M.url,
    M.ingested_at,
).where(M.id == bindparam("message_id"), M.org_id == bindparam("org_id"))
LABEL = select(
    L.status,
    L.is_feedback,
    L.category,
    L.relevance,
    L.confidence,
    L.chunk_count,
    L.provider,
    L.model,
    L.prompt_version,
    L.error,
    L.labelled_at,
    L.labelled_by,
).where(L.message_id == bindparam("message_id"), L.org_id == bindparam("org_id"))
_MENTIONS = (
    select(
        FM.id,
        FM.ordinal,
        FM.title,
        FM.description,
        FM.problem_statement,
        FM.desired_outcome,
        FM.kind,
        FM.urgency,
        FM.sentiment,
        FM.theme,
        FM.sub_theme,
        FM.customer,
        FM.evidence_quote,
        FM.evidence_start,
        FRM.feature_request_id,
    )
    .select_from(
        FeatureMention.__table__.outerjoin(
            FeatureRequestMention.__table__, and_(FRM.mention_id == FM.id, FRM.org_id == bindparam("org_id"))
        )
    )
    .where(FM.message_id == bindparam("message_id"), FM.org_id == bindparam("org_id"))
    .order_by(FM.ordinal, FM.id)
    .limit(MAX_MESSAGE_MENTIONS)
)
_INSIGHT = select(MI.summary, MI.sentiment, MI.key_topics, MI.created_at).where(
    MI.message_id == bindparam("message_id"), MI.org_id == bindparam("org_id")
)


async def get_message(db: Reader, org_id: int, message_id: int) -> dict[str, Any] | None:
    """One message of the organisation with its label, mentions and insight; None if not the org's."""
    values = {"org_id": org_id, "message_id": message_id}
    detail = await db.dict_or_none(_MESSAGE, values)
    if detail is None:
        return None
    detail["label"] = await db.dict_or_none(LABEL, values)
    detail["mentions"] = await db.dicts(_MENTIONS, values)
    insight = await db.dict_or_none(_INSIGHT, values)
    if insight is not None:
        insight["key_topics"] = _topics(insight["key_topics"])
    detail["insight"] = insight
    return detail


def _topics(document: Any) -> list[str]:
    # Stored as {"topics": [...]}; anything else yields no topics rather than a failed request.
    topics = document.get("topics") if isinstance(document, dict) else None
    return [str(topic) for topic in topics] if isinstance(topics, list) else []
