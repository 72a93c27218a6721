"""Revenue-weighted asks: which resolved customers asked for each feature request, and their ARR.

A request's customers are the distinct customers (`message_authors.customer_id`) of the messages
its linked mentions came from: two messages of one customer count once, a message counts for
its customer only. They are stored per request in `feature_request_customers` (with how many of
the request's mentions each wrote), and folded into the request's `account_count`, `arr_cents`
(the customers' summed ARR, in cents) and `segments`, so the read API sorts and filters a
catalogue of any size by revenue with an index seek instead of aggregating a million messages
per call.

Every writer that changes an input keeps them right, for the requests it touched only:

- the catalogue linker and the triage writes change links: `refresh_request_stats` recomputes a
  touched request's customers from its links (`refresh_request_customers`), and the linker folds
  only the newly linked mentions into the requests that just gained some (`add_request_customers`);
- the author resolution changes who wrote a message: the requests of the messages it rewrote are
  recomputed (`author_resolution._refresh_asks`, through `refresh_request_customers`);
- an import, a PATCH or a merge changes a customer's ARR, segment or identity: the requests that
  customer asked for get their totals re-summed from `feature_request_customers`
  (`refresh_customer_revenue`), or, for a merge, their customers recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.customers import dialect_insert
from headway_assets.core.warehouse.schema import (
    Customer,
    FeatureMention,
    FeatureRequest,
    FeatureRequestCustomer,
    FeatureRequestMention,
    MessageAuthor,
)

FRC = FeatureRequestCustomer.__table__.c
FR = FeatureRequest.__table__.c


def arr_cents(arr: float | None) -> int:
    """An ARR (currency units, two decimals) as whole cents; a customer without ARR adds 0."""
    return round(float(arr) * 100) if arr is not None else 0


def _authored(org_id: int) -> Any:
    """Links joined to their mentions' resolved customers (customers of this org that still exist)."""
    link, mention = FeatureRequestMention, FeatureMention
    return (
        select()
        .select_from(link)
        .join(mention, mention.id == link.mention_id)
        .join(MessageAuthor, MessageAuthor.message_id == mention.message_id)
        .join(Customer, and_(Customer.id == MessageAuthor.customer_id, Customer.org_id == org_id))
        .where(link.org_id == org_id)
    )


def refresh_request_customers(conn: Connection, org_id: int, request_ids: Collection[int]) -> None:
    """Recompute the customers of these requests of `org_id` from their links, then their revenue.

    Set-based per batch: the request's rows of `feature_request_customers` are replaced by one
    INSERT ... SELECT over its links, mentions and authors. Ids of other organisations match no
    row. Runs inside the caller's transaction.
    """
    ids = sorted(set(request_ids))
    link = FeatureRequestMention
    for batch in batches(ids):
        conn.execute(
            delete(FeatureRequestCustomer).where(
                FeatureRequestCustomer.org_id == org_id, FeatureRequestCustomer.feature_request_id.in_(batch)
            )
        )
        counted = (
            _authored(org_id)
            .add_columns(link.feature_request_id, MessageAuthor.customer_id, link.org_id, func.count())
            .where(link.feature_request_id.in_(batch))
            .group_by(link.feature_request_id, MessageAuthor.customer_id, link.org_id)
        )
        recount = dialect_insert(conn, FeatureRequestCustomer).from_select(
            ["feature_request_id", "customer_id", "org_id", "mentions"], counted
        )
        # A concurrent linker may have added a row since the delete: the recount is the truth.
        conn.execute(
            recount.on_conflict_do_update(
                index_elements=["feature_request_id", "customer_id"], set_={"mentions": recount.excluded.mentions}
            )
        )
    refresh_request_revenue(conn, org_id, ids)


def add_request_customers(conn: Connection, org_id: int, added: Mapping[int, Sequence[int]]) -> None:
    """Fold mentions newly linked to these requests (request id -> mention ids) into their customers.

    For requests whose stored customers were right before the mentions were linked: only the new
    mentions' authors are read, so the cost grows with them, not with the request's history.
    """
    pairs = sorted((request_id, mention_id) for request_id, ids in added.items() for mention_id in ids)
    if not pairs:
        return
    request_of = {mention_id: request_id for request_id, mention_id in pairs}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for batch in batches(sorted(request_of)):
        for mention_id, customer_id in conn.execute(
            select(FeatureMention.id, Customer.id)
            .join(MessageAuthor, MessageAuthor.message_id == FeatureMention.message_id)
            .join(Customer, and_(Customer.id == MessageAuthor.customer_id, Customer.org_id == org_id))
            # The org is guarded by the customer's: a mention filter on org_id led SQLite to scan
            # the org's mentions through (org_id, sent_at) instead of seeking these ids.
            .where(FeatureMention.id.in_(batch))
        ).tuples():
            counts[(request_of[mention_id], int(customer_id))] += 1
    requests = sorted({request_id for request_id, _ in pairs})
    if counts:
        # Only the stored rows of these pairs: a request asked for by hundreds of customers has as
        # many rows, of which a day's mentions meet a few.
        stored: dict[tuple[int, int], int] = {}
        for batch in batches(sorted({request_id for request_id, _ in counts})):
            for customers in batches(sorted({customer_id for _, customer_id in counts})):
                for request_id, customer_id, mentions in conn.execute(
                    select(FRC.feature_request_id, FRC.customer_id, FRC.mentions).where(
                        FRC.org_id == org_id, FRC.feature_request_id.in_(batch), FRC.customer_id.in_(customers)
                    )
                ).tuples():
                    stored[(int(request_id), int(customer_id))] = int(mentions)
        new = [
            {"feature_request_id": r, "customer_id": c, "org_id": org_id, "mentions": n}
            for (r, c), n in sorted(counts.items())
            if (r, c) not in stored
        ]
        grown = [
            {"b_request": r, "b_customer": c, "b_mentions": stored[(r, c)] + n}
            for (r, c), n in sorted(counts.items())
            if (r, c) in stored
        ]
        for rows in batches(new):
            # A concurrent recount (the author resolution) may have written the pair since it was read.
            added_rows = dialect_insert(conn, FeatureRequestCustomer)
            conn.execute(
                added_rows.on_conflict_do_update(
                    index_elements=["feature_request_id", "customer_id"],
                    set_={"mentions": FeatureRequestCustomer.mentions + added_rows.excluded.mentions},
                ),
                list(rows),
            )
        if grown:
            conn.execute(
                update(FeatureRequestCustomer)
                .where(FRC.feature_request_id == bindparam("b_request"), FRC.customer_id == bindparam("b_customer"))
                .values(mentions=bindparam("b_mentions")),
                grown,
            )
    refresh_request_revenue(conn, org_id, requests)


def refresh_request_revenue(conn: Connection, org_id: int, request_ids: Collection[int]) -> int:
    """Re-sum `account_count`, `arr_cents` and `segments` of these requests from their stored customers.

    Reads `feature_request_customers` joined to `customers` (never the mentions), and writes only
    the requests whose totals changed; returns how many.
    """
    changed = 0
    for batch in batches(sorted(set(request_ids))):
        totals: dict[int, list[Any]] = defaultdict(lambda: [0, 0, set()])
        for request_id, arr, segment in conn.execute(
            select(FRC.feature_request_id, Customer.arr, Customer.segment)
            .join(Customer, and_(Customer.id == FRC.customer_id, Customer.org_id == org_id))
            .where(FRC.org_id == org_id, FRC.feature_request_id.in_(batch))
        ).tuples():
            total = totals[int(request_id)]
            total[0] += 1
            total[1] += arr_cents(arr)
            if segment:
                total[2].add(segment)
        rows: list[dict[str, Any]] = []
        for request_id, count, cents, segments in conn.execute(
            select(FR.id, FR.account_count, FR.arr_cents, FR.segments).where(FR.org_id == org_id, FR.id.in_(batch))
        ).tuples():
            new_count, new_cents, names = totals.get(int(request_id), (0, 0, set()))
            document = {"names": sorted(names)}
            if (count, cents, segments) != (new_count, new_cents, document):
                rows.append({"b_id": request_id, "b_count": new_count, "b_cents": new_cents, "b_segments": document})
        if rows:
            conn.execute(
                update(FeatureRequest)
                .where(FR.id == bindparam("b_id"))
                .values(
                    account_count=bindparam("b_count"),
                    arr_cents=bindparam("b_cents"),
                    segments=bindparam("b_segments", type_=FR.segments.type),
                ),
                rows,
            )
        changed += len(rows)
    return changed


def requests_of_customers(conn: Connection, org_id: int, customer_ids: Collection[int]) -> set[int]:
    """The requests of `org_id` that these customers asked for."""
    found: set[int] = set()
    for batch in batches(sorted(set(customer_ids))):
        found |= set(
            conn.execute(
                select(FRC.feature_request_id).where(FRC.org_id == org_id, FRC.customer_id.in_(batch)).distinct()
            ).scalars()
        )
    return found


def refresh_customer_revenue(conn: Connection, org_id: int, customer_ids: Collection[int]) -> int:
    """After these customers' ARR or segment changed: re-sum the requests they asked for; returns how many changed."""
    return refresh_request_revenue(conn, org_id, requests_of_customers(conn, org_id, customer_ids))
