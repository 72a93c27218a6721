"""Competitors: the list with mention counts and trend and one competitor with the asks that
co-occur (through the reader), and the writes (one transaction each on the write engine, run in
the thread pool by the route).

Counts are of messages naming the competitor. The trend is the feature requests' rule
(`request_stats.trend_of`) on the 7 days up to the organisation's latest ask and the 7 before,
so a competitor and an ask of the same weeks are compared on the same clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.pagination import SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.corrections import _transaction
from headway_api.queries.text import LIKE_ESCAPE, like_pattern
from headway_api.schemas.competitors import MAX_DETAIL_ASKS, MAX_DETAIL_MENTIONS, CompetitorListParams
from headway_assets.core.kinds import COMPETITOR_CONTEXTS
from headway_assets.core.warehouse.competitors import clean_terms, conflicting_competitor
from headway_assets.core.warehouse.corrections import CorrectionError
from headway_assets.core.warehouse.request_stats import TREND_DAYS, trend_of
from headway_assets.core.warehouse.schema import (
    Competitor,
    CompetitorMention,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    utc_now,
)

C = Competitor.__table__.c
CM = CompetitorMention.__table__.c
FM = FeatureMention.__table__.c
FR = FeatureRequest.__table__.c
FRM = FeatureRequestMention.__table__.c
SUMMARY_COLUMNS = (C.id, C.name, C.aliases, C.created_at, C.updated_at)
NAME_SORT = SortKey("name", (C.name, C.id), ("str", "int"), descending=False, listing="competitors")
WINDOW = timedelta(days=TREND_DAYS)


def _list_statement(with_filter: bool, with_cursor: bool) -> Any:
    query = select(*SUMMARY_COLUMNS).where(C.org_id == bindparam("org_id"))
    if with_filter:
        query = query.where(C.name.ilike(bindparam("q"), escape=LIKE_ESCAPE))
    return paginate(query, NAME_SORT, with_cursor=with_cursor)


# Built once: the PostgreSQL reader keeps each statement compiled.
_LISTS = {(f, c): _list_statement(f, c) for f in (False, True) for c in (False, True)}
_AS_OF = select(func.max(FM.sent_at).label("as_of")).where(FM.org_id == bindparam("org_id"))
_IN_PAGE = CM.competitor_id.in_(bindparam("ids", expanding=True))
_SENT = CM.sent_at.type
# The two trend windows, bound as instants (SQLite has no date arithmetic on its stored text).
_LAST = and_(CM.sent_at > bindparam("last_start", type_=_SENT), CM.sent_at <= bindparam("as_of", type_=_SENT))
_PREV = and_(CM.sent_at > bindparam("prev_start", type_=_SENT), CM.sent_at <= bindparam("last_start", type_=_SENT))
_COUNTS = (
    select(
        CM.competitor_id,
        func.count(distinct(CM.message_id)).label("mention_count"),
        func.min(CM.sent_at).label("first_seen"),
        func.max(CM.sent_at).label("last_seen"),
        func.count(distinct(case((_LAST, CM.message_id)))).label("last_7d"),
        func.count(distinct(case((_PREV, CM.message_id)))).label("prev_7d"),
    )
    .where(CM.org_id == bindparam("org_id"), _IN_PAGE)
    .group_by(CM.competitor_id)
)
_CONTEXTS = (
    select(CM.competitor_id, CM.context, func.count(distinct(CM.message_id)).label("messages"))
    .where(CM.org_id == bindparam("org_id"), _IN_PAGE)
    .group_by(CM.competitor_id, CM.context)
)
_ONE = select(*SUMMARY_COLUMNS).where(C.org_id == bindparam("org_id"), C.id == bindparam("competitor_id"))
# The competitor's messages, then the requests their asks are linked to.
_ITS_MESSAGES = (
    select(CM.message_id)
    .where(CM.org_id == bindparam("org_id"), CM.competitor_id == bindparam("competitor_id"))
    .distinct()
    .scalar_subquery()
)
_SHARED = func.count(distinct(FM.message_id)).label("shared_messages")
_ASKS = (
    select(FR.id, FR.title, FR.kind, FR.status, FR.theme, FR.sub_theme, _SHARED)
    .select_from(FeatureMention.__table__.join(FeatureRequestMention.__table__, FRM.mention_id == FM.id))
    .join(FeatureRequest.__table__, FR.id == FRM.feature_request_id)
    .where(FM.org_id == bindparam("org_id"), FRM.org_id == bindparam("org_id"), FM.message_id.in_(_ITS_MESSAGES))
    .group_by(FR.id, FR.title, FR.kind, FR.status, FR.theme, FR.sub_theme)
    .order_by(_SHARED.desc(), FR.id)
    .limit(MAX_DETAIL_ASKS)
)
_RECENT = (
    select(
        CM.message_id,
        CM.source,
        CM.sent_at,
        CM.context,
        CM.evidence_quote,
        FRM.feature_request_id,
    )
    .select_from(
        CompetitorMention.__table__.outerjoin(
            FeatureMention.__table__, and_(FM.message_id == CM.message_id, FM.ordinal == CM.mention_ordinal)
        ).outerjoin(FeatureRequestMention.__table__, FRM.mention_id == FM.id)
    )
    .where(CM.org_id == bindparam("org_id"), CM.competitor_id == bindparam("competitor_id"))
    .order_by(CM.sent_at.desc(), CM.id.desc())
    .limit(MAX_DETAIL_MENTIONS)
)


def _windows(as_of: datetime) -> dict[str, datetime]:
    return {"as_of": as_of, "last_start": as_of - WINDOW, "prev_start": as_of - 2 * WINDOW}


def _summaries(
    rows: list[dict[str, Any]], counts: list[dict[str, Any]], contexts: list[dict[str, Any]], as_of: datetime
) -> list[dict[str, Any]]:
    """Competitor rows with their counts and trend, as `CompetitorSummary` documents."""
    by_id = {row["competitor_id"]: row for row in counts}
    per_context: dict[int, dict[str, int]] = {}
    for row in contexts:
        per_context.setdefault(row["competitor_id"], {})[row["context"]] = int(row["messages"])
    documents = []
    for row in rows:
        found = by_id.get(row["id"])
        last, prev = (int(found["last_7d"]), int(found["prev_7d"])) if found else (0, 0)
        first_seen = found["first_seen"] if found else None
        documents.append(
            {
                "id": row["id"],
                "name": row["name"],
                "aliases": list(row["aliases"] or ()),
                "mention_count": int(found["mention_count"]) if found else 0,
                "contexts": {
                    context: count
                    for context in COMPETITOR_CONTEXTS
                    if (count := per_context.get(row["id"], {}).get(context))
                },
                "first_seen": first_seen,
                "last_seen": found["last_seen"] if found else None,
                "mentions_last_7d": last,
                "mentions_prev_7d": prev,
                "trend": trend_of(first_seen, last, prev, as_of) if first_seen is not None else "steady",
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
            }
        )
    return documents


async def _with_counts(db: Reader, org_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return []
    as_of = (await db.dicts(_AS_OF, {"org_id": org_id}))[0]["as_of"] or utc_now()
    values = {"org_id": org_id, "ids": [row["id"] for row in rows]} | _windows(as_of)
    counts = await db.dicts(_COUNTS, values)
    contexts = await db.dicts(_CONTEXTS, {"org_id": org_id, "ids": values["ids"]})
    return _summaries(rows, counts, contexts, as_of)


async def list_competitors(db: Reader, org_id: int, params: CompetitorListParams) -> dict[str, Any]:
    """One page of the organisation's competitors by name, with their counts and trend."""
    filters = params.filters()
    values: dict[str, Any] = {"org_id": org_id, **page_params(NAME_SORT, params.cursor, params.limit)}
    if "q" in filters:
        values["q"] = like_pattern(filters["q"])
    rows = await db.dicts(_LISTS["q" in filters, params.cursor is not None], values)
    page, next_cursor = page_of(rows, NAME_SORT, params.limit)
    return page_document(await _with_counts(db, org_id, page), next_cursor)


async def get_competitor(db: Reader, org_id: int, competitor_id: int) -> dict[str, Any] | None:
    """One competitor with its counts, the asks of its messages and its latest mentions (a
    `CompetitorDetail`); None when it is not the organisation's."""
    values = {"org_id": org_id, "competitor_id": competitor_id}
    row = await db.dict_or_none(_ONE, values)
    if row is None:
        return None
    (summary,) = await _with_counts(db, org_id, [row])
    return summary | {"asks": await db.dicts(_ASKS, values), "recent_mentions": await db.dicts(_RECENT, values)}


# --- Writes -------------------------------------------------------------------------------------


def _checked(
    conn: Connection, org_id: int, competitor_id: int | None, name: str, aliases: list[str]
) -> tuple[str, tuple[str, ...]]:
    """The name and aliases as stored; 400 for a refused value, 409 for another competitor's term."""
    try:
        clean_name, clean_aliases = clean_terms(name, aliases)
    except ValueError as error:
        raise CorrectionError(
            400, "invalid_value", str(error), "aliases" if "alias" in str(error) else "name"
        ) from None
    clash = conflicting_competitor(conn, org_id, (clean_name, *clean_aliases), exclude_id=competitor_id)
    if clash is not None:
        other, term = clash
        raise CorrectionError(409, "conflict", f"{term!r} is already a name or alias of competitor {other}", "name")
    return clean_name, clean_aliases


def _detail(conn: Connection, org_id: int, competitor_id: int) -> dict[str, Any]:
    """A competitor just written, as a `CompetitorDetail` (its mentions are counted by the reader later)."""
    row = conn.execute(_ONE, {"org_id": org_id, "competitor_id": competitor_id}).mappings().one()
    values = {"org_id": org_id, "competitor_id": competitor_id}
    as_of = conn.execute(_AS_OF, {"org_id": org_id}).scalar() or utc_now()
    ids = {"org_id": org_id, "ids": [competitor_id]}
    counts = [dict(r) for r in conn.execute(_COUNTS, ids | _windows(as_of)).mappings()]
    contexts = [dict(r) for r in conn.execute(_CONTEXTS, ids).mappings()]
    (summary,) = _summaries([dict(row)], counts, contexts, as_of)
    asks = [dict(r) for r in conn.execute(_ASKS, values).mappings()]
    recent = [dict(r) for r in conn.execute(_RECENT, values).mappings()]
    return summary | {"asks": asks, "recent_mentions": recent}


def create_competitor(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Create a competitor; it as a `CompetitorDetail` document."""
    org_id = principal.org_id
    try:
        with _transaction(db) as conn:
            name, aliases = _checked(conn, org_id, None, body["name"], body.get("aliases") or [])
            now = utc_now()
            competitor_id = conn.execute(
                insert(Competitor)
                .values(org_id=org_id, name=name, aliases=list(aliases), created_at=now, updated_at=now)
                .returning(Competitor.id)
            ).scalar_one()
            return _detail(conn, org_id, competitor_id)
    except IntegrityError:  # the same name created by a concurrent request, after our check
        raise CorrectionError(409, "conflict", "a competitor of this name was just created", "name") from None


def _owned(conn: Connection, org_id: int, competitor_id: int) -> Any:
    row = conn.execute(
        select(Competitor.name, Competitor.aliases).where(Competitor.org_id == org_id, Competitor.id == competitor_id)
    ).first()
    if row is None:
        raise CorrectionError(404, "not_found", "Competitor not found.")
    return row


def patch_competitor(db: Database, principal: Principal, competitor_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Rename a competitor or replace its aliases; a `CompetitorDetail`. Its mentions stay: the
    next tier-2 refresh looks for the new names (the list is part of what an extraction is stale by)."""
    org_id = principal.org_id
    try:
        with _transaction(db) as conn:
            held = _owned(conn, org_id, competitor_id)
            if changes.get("name", "") is None:
                raise CorrectionError(400, "invalid_value", "name cannot be cleared", "name")
            name = changes.get("name", held.name)
            # Omitted: kept; null or []: none.
            aliases = (changes["aliases"] or []) if "aliases" in changes else list(held.aliases or ())
            name, clean_aliases = _checked(conn, org_id, competitor_id, name, aliases)
            conn.execute(
                update(Competitor)
                .where(Competitor.id == competitor_id)
                .values(name=name, aliases=list(clean_aliases), updated_at=utc_now())
            )
            return _detail(conn, org_id, competitor_id)
    except IntegrityError:  # renamed to a name a concurrent request just took
        raise CorrectionError(409, "conflict", "a competitor of this name was just created", "name") from None


def delete_competitor(db: Database, principal: Principal, competitor_id: int) -> dict[str, Any]:
    """Delete a competitor and its mentions; a `CompetitorDeleted` document."""
    org_id = principal.org_id
    with _transaction(db) as conn:
        held = _owned(conn, org_id, competitor_id)
        # Explicitly, not only by the cascade: the count is part of the answer.
        removed = conn.execute(delete(CompetitorMention).where(CompetitorMention.competitor_id == competitor_id))
        conn.execute(delete(Competitor).where(Competitor.id == competitor_id))
        return {"id": competitor_id, "name": held.name, "mentions_removed": int(removed.rowcount or 0)}
