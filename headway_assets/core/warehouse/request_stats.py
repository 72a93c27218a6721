"""Aggregates of feature requests, recomputed in SQL for the requests a change touched.

The pipeline calls `refresh_request_stats` for the requests a run linked mentions to or from, and
the triage API for the requests a merge or a move changed, so no writer rebuilds a whole catalogue
to keep counts right. The semantics are those of `headway_assets.catalog.entry_stats`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, delete, exists, func, or_, select, update

from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.request_customers import refresh_request_customers
from headway_assets.core.warehouse.schema import (
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    utc_now,
)

TREND_DAYS = 7  # the same window as headway_assets.catalog.TREND_DAYS


def org_as_of(conn: Connection, org_id: int) -> datetime:
    """The org's latest mention (what trends are measured against), or now when it has none."""
    latest = conn.execute(select(func.max(FeatureMention.sent_at)).where(FeatureMention.org_id == org_id)).scalar()
    return latest if latest is not None else utc_now()


def trend_of(first_seen: datetime, last_7d: int, prev_7d: int, as_of: datetime) -> str:
    """new | rising | steady | falling, exactly as `headway_assets.catalog.entry_stats` decides."""
    if first_seen > as_of - timedelta(days=TREND_DAYS):
        return "new"
    if last_7d >= 2 and last_7d >= 2 * max(prev_7d, 1):
        return "rising"
    if prev_7d >= 2 and last_7d * 2 <= prev_7d:
        return "falling"
    return "steady"


FR = FeatureRequest.__table__.c
_STATS_COLUMNS = (
    "mention_count",
    "customer_count",
    "customers",
    "sources",
    "first_seen",
    "last_seen",
    "mentions_last_7d",
    "mentions_prev_7d",
    "trend",
    "updated_at",
)
_STATS_UPDATE = (
    update(FeatureRequest)
    .where(FR.id == bindparam("request_id"), FR.org_id == bindparam("org"))
    .values({name: bindparam(f"new_{name}", type_=FR[name].type) for name in _STATS_COLUMNS})
)


def has_person_state() -> Any:
    """True for a request a person acted on: it stays in the catalogue even with no mentions."""
    pinned = exists().where(CataloguePin.feature_request_id == FeatureRequest.id)
    return or_(
        FeatureRequest.status != "new",
        FeatureRequest.owner.is_not(None),
        FeatureRequest.title_locked,
        FeatureRequest.taxonomy_locked,
        FeatureRequest.origin == "person",
        FeatureRequest.merged_into_id.is_not(None),
        pinned,
    )


def refresh_request_stats(
    conn: Connection, org_id: int, request_ids: Collection[int], as_of: datetime | None = None
) -> None:
    """Recompute the aggregates of these requests of `org_id` from their linked mentions.

    mention_count, customer_count, customers ({"names": sorted distinct}), sources ({source: n}),
    first_seen, last_seen, mentions_last_7d, mentions_prev_7d, trend and updated_at, and the
    resolved customers with their ARR (`request_customers.refresh_request_customers`), with
    `as_of` the org's latest mention when None. A request left without mentions is deleted,
    unless it is a tombstone or carries a person's state (a status, an owner, a locked title or
    taxonomy, a person's origin, a pin): then its counts go to 0 and its dates stay. Ids of
    other organisations are ignored. Runs inside the caller's transaction.
    """
    ids = sorted(set(request_ids))
    if not ids:
        return
    when = as_of if as_of is not None else org_as_of(conn, org_id)
    window = timedelta(days=TREND_DAYS)
    now = utc_now()
    for batch in batches(ids):
        _refresh_batch(conn, org_id, batch, when, window, now)
    # The same requests' resolved customers and ARR follow their links (issue 16's revenue asks).
    refresh_request_customers(conn, org_id, ids)


def _refresh_batch(
    conn: Connection, org_id: int, ids: Sequence[int], as_of: datetime, window: timedelta, now: datetime
) -> None:
    link = FeatureRequestMention
    mention = FeatureMention
    scope = and_(link.org_id == org_id, link.feature_request_id.in_(ids))
    joined = select().select_from(link).join(mention, mention.id == link.mention_id).where(scope)
    sent = mention.sent_at
    last_7d = func.sum(case((and_(sent > as_of - window, sent <= as_of), 1), else_=0))
    prev_7d = func.sum(case((and_(sent > as_of - 2 * window, sent <= as_of - window), 1), else_=0))
    totals = conn.execute(
        joined.add_columns(
            link.feature_request_id,
            func.count().label("mentions"),
            func.min(sent).label("first_seen"),
            func.max(sent).label("last_seen"),
            last_7d.label("last_7d"),
            prev_7d.label("prev_7d"),
        ).group_by(link.feature_request_id)
    ).all()
    sources: dict[int, dict[str, int]] = defaultdict(dict)
    for request_id, source, count in conn.execute(
        joined.add_columns(link.feature_request_id, mention.source, func.count()).group_by(
            link.feature_request_id, mention.source
        )
    ).tuples():
        sources[request_id][source] = count
    customers: dict[int, list[str]] = defaultdict(list)
    for request_id, customer in conn.execute(
        joined.add_columns(link.feature_request_id, mention.customer)
        .where(mention.customer.is_not(None), mention.customer != "")
        .distinct()
    ).tuples():
        customers[request_id].append(customer)

    seen: set[int] = set()
    updates: list[dict[str, Any]] = []
    for row in totals:
        request_id = row.feature_request_id
        seen.add(request_id)
        names = sorted(customers.get(request_id, []))  # Python's order, as entry_stats sorts
        last, prev = int(row.last_7d or 0), int(row.prev_7d or 0)
        updates.append(
            {
                "request_id": request_id,
                "org": org_id,
                "new_mention_count": int(row.mentions),
                "new_customer_count": len(names),
                "new_customers": {"names": names},
                "new_sources": dict(sorted(sources.get(request_id, {}).items())),
                "new_first_seen": row.first_seen,
                "new_last_seen": row.last_seen,
                "new_mentions_last_7d": last,
                "new_mentions_prev_7d": prev,
                "new_trend": trend_of(row.first_seen, last, prev, as_of),
                "new_updated_at": now,
            }
        )
    if updates:
        # One statement for the batch (executemany), built once: a rebuild touches every request.
        conn.execute(_STATS_UPDATE, updates)

    empty = [request_id for request_id in ids if request_id not in seen]
    if not empty:
        return
    in_org_empty = and_(FeatureRequest.org_id == org_id, FeatureRequest.id.in_(empty))
    conn.execute(delete(FeatureRequest).where(in_org_empty, ~has_person_state()))
    conn.execute(
        update(FeatureRequest)
        .where(in_org_empty)
        .values(
            mention_count=0,
            customer_count=0,
            customers={"names": []},
            sources={},
            mentions_last_7d=0,
            mentions_prev_7d=0,
            trend="steady",
            updated_at=now,
        )
    )


def refresh_request_windows(
    conn: Connection, org_id: int, request_ids: Collection[int], as_of: datetime | None = None
) -> int:
    """Recompute only mentions_last_7d, mentions_prev_7d and trend of these requests of `org_id`.

    For requests whose mentions did not change but whose 7-day windows moved with the org's
    latest day: the windows are counted from the org's mentions of the last two windows (an index
    range on feature_mentions, not each request's whole history), with `refresh_request_stats`'
    semantics (an empty request is `steady`). Rows are written only where a value changed; returns
    how many. Runs inside the caller's transaction.
    """
    ids = set(request_ids)
    if not ids:
        return 0
    when = as_of if as_of is not None else org_as_of(conn, org_id)
    window = timedelta(days=TREND_DAYS)
    link, mention = FeatureRequestMention, FeatureMention
    sent = mention.sent_at
    # Driven by the mentions' (org_id, sent_at) index: the last two windows only.
    counts = {
        row.feature_request_id: (int(row.last_7d or 0), int(row.prev_7d or 0))
        for row in conn.execute(
            select(
                link.feature_request_id,
                func.sum(case((sent > when - window, 1), else_=0)).label("last_7d"),
                func.sum(case((sent <= when - window, 1), else_=0)).label("prev_7d"),
            )
            .select_from(mention)
            .join(link, link.mention_id == mention.id)
            .where(mention.org_id == org_id, sent > when - 2 * window, sent <= when, link.org_id == org_id)
            .group_by(link.feature_request_id)
        )
    }
    now = utc_now()
    changed = 0
    for batch in batches(sorted(ids)):
        stored = conn.execute(
            select(
                FeatureRequest.id,
                FeatureRequest.first_seen,
                FeatureRequest.mention_count,
                FeatureRequest.mentions_last_7d,
                FeatureRequest.mentions_prev_7d,
                FeatureRequest.trend,
            ).where(FeatureRequest.org_id == org_id, FeatureRequest.id.in_(list(batch)))
        ).all()
        rows: list[dict[str, Any]] = []
        for row in stored:
            last, prev = counts.get(row.id, (0, 0))
            trend = trend_of(row.first_seen, last, prev, when) if row.mention_count else "steady"
            if (last, prev, trend) != (row.mentions_last_7d, row.mentions_prev_7d, row.trend):
                rows.append({"b_id": row.id, "b_last": last, "b_prev": prev, "b_trend": trend})
        if rows:  # one statement, many parameter sets: a day moves the windows of every active request
            conn.execute(
                update(FeatureRequest)
                .where(FeatureRequest.id == bindparam("b_id"))
                .values(
                    mentions_last_7d=bindparam("b_last"),
                    mentions_prev_7d=bindparam("b_prev"),
                    trend=bindparam("b_trend"),
                    updated_at=now,
                ),
                rows,
            )
        changed += len(rows)
    return changed


@dataclass(frozen=True)
class AddedMention:
    """What a request's aggregates need of a mention newly linked to it."""

    sent_at: datetime
    source: str
    customer: str | None
    mention_id: int | None = None  # for `request_customers.add_request_customers`


def add_to_request_stats(conn: Connection, org_id: int, added: Mapping[int, Sequence[AddedMention]]) -> set[int]:
    """Fold newly linked mentions into the stored aggregates of these requests of `org_id`.

    For requests whose stored counts were right before the mentions were linked (not stale):
    mention_count, customers, customer_count, sources and first/last seen are updated from the
    new mentions alone, so the cost grows with them, not with the request's history. The 7-day
    windows and trend are left to `refresh_request_windows`, which must run afterwards. The rows
    are locked while read (PostgreSQL), so a concurrent triage write cannot be lost. Returns the
    ids updated (ids of other organisations or tombstones are left alone).
    """
    ids = sorted(request_id for request_id, mentions in added.items() if mentions)
    updated: set[int] = set()
    now = utc_now()
    for batch in batches(ids):
        rows = conn.execute(
            select(
                FeatureRequest.id,
                FeatureRequest.mention_count,
                FeatureRequest.customers,
                FeatureRequest.sources,
                FeatureRequest.first_seen,
                FeatureRequest.last_seen,
            )
            .where(
                FeatureRequest.org_id == org_id,
                FeatureRequest.id.in_(list(batch)),
                FeatureRequest.merged_into_id.is_(None),
            )
            .with_for_update()
        ).all()
        values: list[dict[str, Any]] = []
        for row in rows:
            mentions = added[row.id]
            names = set((row.customers or {}).get("names", []))
            names |= {m.customer for m in mentions if m.customer}
            sources: dict[str, int] = dict(row.sources or {})
            for mention in mentions:
                sources[mention.source] = sources.get(mention.source, 0) + 1
            times = [m.sent_at for m in mentions]
            if row.mention_count:
                times += [row.first_seen, row.last_seen]
            values.append(
                {
                    "b_id": row.id,
                    "b_count": row.mention_count + len(mentions),
                    "b_customer_count": len(names),
                    "b_customers": {"names": sorted(names)},
                    "b_sources": dict(sorted(sources.items())),
                    "b_first": min(times),
                    "b_last": max(times),
                }
            )
            updated.add(row.id)
        if values:
            conn.execute(
                update(FeatureRequest)
                .where(FeatureRequest.id == bindparam("b_id"))
                .values(
                    mention_count=bindparam("b_count"),
                    customer_count=bindparam("b_customer_count"),
                    customers=bindparam("b_customers", type_=FeatureRequest.__table__.c.customers.type),
                    sources=bindparam("b_sources", type_=FeatureRequest.__table__.c.sources.type),
                    first_seen=bindparam("b_first", type_=FeatureRequest.__table__.c.first_seen.type),
                    last_seen=bindparam("b_last", type_=FeatureRequest.__table__.c.last_seen.type),
                    updated_at=now,
                ),
                values,
            )
    return updated
