"""Merge one customer into another: the one write the CRM import and `POST /v1/customers/{id}/merge` share.

Everything that points at the source moves to the target: its contacts, its domains, its Slack
Connect teams and its resolved messages (`message_authors`). The source is then deleted, and the
feature requests it asked for get their customers recomputed (`refresh_request_customers`), in
the caller's transaction: the source and the target may have been two customers of one request
that are now one, so a re-sum of the stored customers would not do. So do the days the source had a
health score (`customer_health`): the target's score of those days now reads both customers' calls
and messages. The target's own fields (name, ARR, segment, external id, `auto_created`...) stay as
they are. The merge is recorded (`customer_merges`: who, when, the source's name and CRM id), so the
next CRM import does not bring the merged customer back (`customer_import`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.conflicts import lock_organisation_customers
from headway_assets.core.warehouse.customer_health import refresh_customer_health
from headway_assets.core.warehouse.request_customers import refresh_request_customers, requests_of_customers
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    CustomerHealth,
    CustomerMerge,
    CustomerSlackTeam,
    MessageAuthor,
    utc_now,
)


def lock_customers(conn: Connection, org_id: int, customer_ids: list[int]) -> dict[int, bool]:
    """The ids among `customer_ids` that are customers of `org_id` (-> their `auto_created`), locked
    for the transaction on PostgreSQL.

    The organisation's customer lock comes first, exclusive (`conflicts.lock_organisation_customers`):
    a resolution run of the organisation in progress finishes first, and none starts until this
    transaction ends, so the two never hold row locks the other waits for (no deadlock) and a run
    never reads a customer this merge is deleting. The rows are then locked in id order.
    """
    lock_organisation_customers(conn, [org_id], shared=False)
    rows = conn.execute(
        select(Customer.id, Customer.auto_created)
        .where(Customer.org_id == org_id, Customer.id.in_(sorted(set(customer_ids))))
        .order_by(Customer.id)
        .with_for_update()
    ).tuples()
    return {int(customer_id): bool(auto) for customer_id, auto in rows}


def merge_customer(conn: Connection, org_id: int, source_id: int, target_id: int, *, actor: str) -> int:
    """Fold customer `source_id` into `target_id` (both of `org_id`, distinct: the caller checked)
    and delete it, recording the merge as done by `actor`; returns how many feature requests had
    their customers recomputed."""
    if source_id == target_id:
        raise ValueError("a customer cannot be merged into itself")
    # Before anything is read: a resolution run of the organisation finishes first (the customer
    # lock, see `lock_customers`), and its rows are moved below. The callers took these locks
    # already; taking them here keeps the guarantee whoever calls.
    lock_customers(conn, org_id, [source_id])
    name, external_id = conn.execute(
        select(Customer.name, Customer.external_id).where(Customer.org_id == org_id, Customer.id == source_id)
    ).one()
    asked = requests_of_customers(conn, org_id, [source_id])
    scored_days = (
        conn.execute(
            select(CustomerHealth.day).where(CustomerHealth.org_id == org_id, CustomerHealth.customer_id == source_id)
        )
        .scalars()
        .all()
    )
    conn.execute(
        update(Contact).where(Contact.org_id == org_id, Contact.customer_id == source_id).values(customer_id=target_id)
    )
    conn.execute(
        update(MessageAuthor)
        .where(MessageAuthor.org_id == org_id, MessageAuthor.customer_id == source_id)
        .values(customer_id=target_id)
    )
    # A domain and a Slack team belong to one customer of the organisation (their keys): they simply move.
    for owned in (CustomerDomain, CustomerSlackTeam):
        conn.execute(
            update(owned).where(owned.org_id == org_id, owned.customer_id == source_id).values(customer_id=target_id)
        )
    # Earlier merges into the source now point at the target (they would cascade away with the source).
    conn.execute(
        update(CustomerMerge)
        .where(CustomerMerge.org_id == org_id, CustomerMerge.target_customer_id == source_id)
        .values(target_customer_id=target_id)
    )
    conn.execute(
        insert(CustomerMerge).values(
            org_id=org_id,
            source_customer_id=source_id,
            source_name=name,
            source_external_id=external_id,
            target_customer_id=target_id,
            actor=actor,
            created_at=utc_now(),
        )
    )
    conn.execute(delete(Customer).where(Customer.org_id == org_id, Customer.id == source_id))
    conn.execute(update(Customer).where(Customer.id == target_id).values(updated_at=utc_now()))
    refresh_request_customers(conn, org_id, asked)
    for window in _day_runs(sorted(scored_days)):
        refresh_customer_health(conn, window, [org_id])
    return len(asked)


def _day_runs(days: list[date]) -> list[TimeWindow]:
    """Consecutive runs of `days` (sorted) as UTC windows: one refresh per run, not per day."""
    runs: list[list[date]] = []
    for day in days:
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return [
        TimeWindow(
            start=datetime.combine(run[0], time.min, tzinfo=UTC),
            end=datetime.combine(run[-1] + timedelta(days=1), time.min, tzinfo=UTC),
        )
        for run in runs
    ]
