"""Customers: the list and one customer (through the reader), the writes, the merge and the import (one
transaction each on the write engine, run in the thread pool by the route).

Writes check their values with the import's own validators (`customer_import`), so a value the
CLI refuses is refused here with the same reason; a refused write raises `CorrectionError` before
the commit, so nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.pagination import SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.corrections import _transaction, actor_of
from headway_api.queries.text import LIKE_ESCAPE, like_pattern
from headway_api.schemas.customers import MAX_LISTED_ASKS, CustomerListParams
from headway_assets.core.warehouse import customer_import
from headway_assets.core.warehouse.conflicts import (
    is_concurrency_conflict,
    limit_lock_waits,
    lock_organisation_customers,
    retry_transaction,
    sqlstate,
)
from headway_assets.core.warehouse.corrections import CorrectionError
from headway_assets.core.warehouse.customer_merge import lock_customers, merge_customer
from headway_assets.core.warehouse.customers import normalise_deal_stage
from headway_assets.core.warehouse.request_customers import refresh_customer_revenue
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    FeatureRequest,
    FeatureRequestCustomer,
    Message,
    MessageAuthor,
    utc_now,
)

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

C = Customer.__table__.c
SUMMARY_COLUMNS = (
    C.id, C.name, C.arr, C.mrr, C.plan, C.segment, C.deal_stage, C.renewal_date, C.owner, C.external_id,
    C.auto_created, C.created_at, C.updated_at,
)  # fmt: skip
NAME_SORT = SortKey("name", (C.name, C.id), ("str", "int"), descending=False, listing="customers")
EXACT_FILTERS = ("segment", "plan", "deal_stage", "auto_created")


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a `CustomerSummary` document (money as float, the flag as bool)."""
    document = dict(row)
    for money in ("arr", "mrr"):
        if document[money] is not None:
            document[money] = float(document[money])
    document["auto_created"] = bool(document["auto_created"])
    return document


def _list_statement(filters: tuple[str, ...], with_cursor: bool) -> Any:
    query = select(*SUMMARY_COLUMNS).where(C.org_id == bindparam("org_id"))
    for name in filters:
        if name == "q":
            query = query.where(C.name.ilike(bindparam("q"), escape=LIKE_ESCAPE))
        else:
            query = query.where(C[name] == bindparam(name))
    return paginate(query, NAME_SORT, with_cursor=with_cursor)


async def list_customers(db: Reader, org_id: int, params: CustomerListParams) -> dict[str, Any]:
    """One page of the organisation's customers by name, filtered."""
    filters = params.filters()
    values: dict[str, Any] = {"org_id": org_id, **filters, **page_params(NAME_SORT, params.cursor, params.limit)}
    if "q" in filters:
        values["q"] = like_pattern(filters["q"])
    statement = _list_statement(tuple(sorted(filters)), params.cursor is not None)
    rows = await db.dicts(statement, values)
    page, next_cursor = page_of(rows, NAME_SORT, params.limit)
    return page_document([_summary(row) for row in page], next_cursor)


_ONE = select(*SUMMARY_COLUMNS).where(C.org_id == bindparam("org_id"), C.id == bindparam("customer_id"))
_DOMAINS = (
    select(CustomerDomain.domain)
    .where(CustomerDomain.org_id == bindparam("org_id"), CustomerDomain.customer_id == bindparam("customer_id"))
    .order_by(CustomerDomain.domain)
)
_CONTACTS = select(func.count().label("contact_count")).where(
    Contact.org_id == bindparam("org_id"), Contact.customer_id == bindparam("customer_id")
)
_MESSAGES = (
    select(func.count().label("message_count"), func.max(Message.sent_at).label("last_message_at"))
    .select_from(MessageAuthor)
    .join(Message, Message.id == MessageAuthor.message_id)
    .where(MessageAuthor.org_id == bindparam("org_id"), MessageAuthor.customer_id == bindparam("customer_id"))
)


FRC = FeatureRequestCustomer.__table__.c
FR = FeatureRequest.__table__.c
_ASKS = (
    select(FR.id.label("feature_request_id"), FR.title, FR.status, FRC.mentions, FR.account_count, FR.arr_cents)
    .select_from(FeatureRequestCustomer.__table__.join(FeatureRequest.__table__, FR.id == FRC.feature_request_id))
    .where(
        FRC.org_id == bindparam("org_id"),
        FRC.customer_id == bindparam("customer_id"),
        FR.org_id == bindparam("org_id"),
        FR.merged_into_id.is_(None),
    )
    .order_by(FRC.mentions.desc(), FR.id)
    .limit(MAX_LISTED_ASKS)
)
_ASK_COUNT = select(func.count().label("ask_count")).where(
    FRC.org_id == bindparam("org_id"), FRC.customer_id == bindparam("customer_id")
)


def _asks(rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The `ask_count` and `asks` fields of a `CustomerDetail` (`CustomerAsk` documents in field order)."""
    return {
        "ask_count": count,
        "asks": [
            {
                "feature_request_id": row["feature_request_id"],
                "title": row["title"],
                "status": row["status"],
                "mentions": row["mentions"],
                "account_count": row["account_count"],
                "arr": (row["arr_cents"] or 0) / 100,
            }
            for row in rows
        ],
    }


async def get_customer(db: Reader, org_id: int, customer_id: int) -> dict[str, Any] | None:
    """One customer with its domains, contact and message counts (a `CustomerDetail`); None if not the org's."""
    values = {"org_id": org_id, "customer_id": customer_id}
    row = await db.dict_or_none(_ONE, values)
    if row is None:
        return None
    domains = [found["domain"] for found in await db.dicts(_DOMAINS, values)]
    contacts = await db.dicts(_CONTACTS, values)
    activity = (await db.dicts(_MESSAGES, values))[0]
    return (
        _summary(row)
        | {
            "domains": domains,
            "contact_count": int(next(iter(contacts[0].values()))),
            "message_count": int(activity["message_count"]),
            "last_message_at": activity["last_message_at"],
        }
        | _asks(await db.dicts(_ASKS, values), int(next(iter((await db.dicts(_ASK_COUNT, values))[0].values()))))
    )


def _detail(conn: Connection, org_id: int, customer_id: int) -> dict[str, Any]:
    values = {"org_id": org_id, "customer_id": customer_id}
    row = conn.execute(_ONE, values).mappings().one()
    activity = conn.execute(_MESSAGES, values).one()
    return (
        _summary(dict(row))
        | {
            "domains": list(conn.execute(_DOMAINS, values).scalars()),
            "contact_count": int(conn.execute(_CONTACTS, values).scalar_one()),
            "message_count": int(activity.message_count),
            "last_message_at": activity.last_message_at,
        }
        | _asks(
            [dict(row) for row in conn.execute(_ASKS, values).mappings()],
            int(conn.execute(_ASK_COUNT, values).scalar_one()),
        )
    )


# --- Writes -------------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> CorrectionError:
    # 400: the value has the schema's shape, the import's rules refuse it (422 is the schema's refusal).
    return CorrectionError(400, "invalid_value", message, field)


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as stored, by the import's rules; a CorrectionError (422) naming the field otherwise."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "domains":
            try:
                values[name] = customer_import.parse_domains(" ".join(value or []))
            except ValueError as error:
                raise _invalid(name, f"domain {error}") from None
        elif name in ("arr", "mrr"):
            try:
                values[name] = None if value is None else customer_import.parse_amount(str(value))
            except ValueError as error:
                raise _invalid(name, f"{name.upper()} {error}") from None
        elif name == "deal_stage":
            try:
                values[name] = normalise_deal_stage(value)
            except ValueError as error:
                raise _invalid(name, str(error)) from None
        elif name == "renewal_date":
            values[name] = value
        else:
            text = None if value is None else str(value).strip() or None
            limit = customer_import.FIELD_LIMITS.get(name)
            if text is not None and limit and len(text) > limit:
                raise _invalid(name, f"{name} is longer than {limit} characters")
            if name == "name" and text is None:
                raise _invalid(name, "name is empty")
            values[name] = text
    return values


def _check_conflicts(conn: Connection, org_id: int, customer_id: int | None, values: dict[str, Any]) -> None:
    """409 when a domain or the external id is another customer's of the organisation."""
    for domain in values.get("domains") or ():
        owner = conn.execute(
            select(CustomerDomain.customer_id).where(CustomerDomain.org_id == org_id, CustomerDomain.domain == domain)
        ).scalar()
        if owner is not None and owner != customer_id:
            raise CorrectionError(
                409, "conflict", f"domain {domain} belongs to another customer (id {owner})", "domains"
            )
    external_id = values.get("external_id")
    if external_id is not None:
        owner = conn.execute(
            select(Customer.id).where(Customer.org_id == org_id, Customer.external_id == external_id)
        ).scalar()
        if owner is not None and owner != customer_id:
            raise CorrectionError(
                409, "conflict", f"external id belongs to another customer (id {owner})", "external_id"
            )


def _set_domains(conn: Connection, org_id: int, customer_id: int, domains: tuple[str, ...]) -> None:
    conn.execute(
        delete(CustomerDomain).where(
            CustomerDomain.org_id == org_id,
            CustomerDomain.customer_id == customer_id,
            CustomerDomain.domain.not_in(domains),
        )
    )
    held = set(conn.execute(select(CustomerDomain.domain).where(CustomerDomain.customer_id == customer_id)).scalars())
    rows = [{"org_id": org_id, "domain": d, "customer_id": customer_id} for d in sorted(domains) if d not in held]
    if rows:
        conn.execute(insert(CustomerDomain), rows)


def create_customer(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Create a customer; it as a `CustomerDetail` document. Waits for a resolution run of the
    organisation as a merge does (`_customer_transaction`): its domains are evidence a run reads."""
    org_id = principal.org_id
    values = _checked(body)

    def create(conn: Connection) -> dict[str, Any]:
        _check_conflicts(conn, org_id, None, values)
        fields = dict(values)
        domains = fields.pop("domains", None) or ()
        now = utc_now()
        customer_id = conn.execute(
            insert(Customer)
            .values(fields | {"org_id": org_id, "created_at": now, "updated_at": now})
            .returning(Customer.id)
        ).scalar_one()
        _set_domains(conn, org_id, customer_id, domains)
        return _detail(conn, org_id, customer_id)

    return _customer_transaction(db, org_id, "customer create", create)


def patch_customer(db: Database, principal: Principal, customer_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a customer's fields (a person's edit: it is no longer auto-created); a `CustomerDetail`.

    Every edit waits for a resolution run of the organisation (`_customer_transaction`), an ARR or
    segment edit too: the run re-sums the ARR and segments of the requests whose authors it
    rewrote, reading the customers' as they are, and an edit meeting it would re-sum only the
    requests it sees committed (docs/reliability.md)."""
    org_id = principal.org_id
    values = _checked(changes)

    def patch(conn: Connection) -> dict[str, Any]:
        found = conn.execute(select(Customer.id).where(Customer.org_id == org_id, Customer.id == customer_id)).first()
        if found is None:
            raise CorrectionError(404, "not_found", "Customer not found.")
        _check_conflicts(conn, org_id, customer_id, values)
        fields = dict(values)
        domains = fields.pop("domains", None)
        conn.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(fields | {"auto_created": False, "auto_key": None, "updated_at": utc_now()})
        )
        if domains is not None:
            _set_domains(conn, org_id, customer_id, domains)
        # The requests this customer asked for carry its ARR and segment: re-summed in this transaction.
        refresh_customer_revenue(conn, org_id, [customer_id])
        return _detail(conn, org_id, customer_id)

    return _customer_transaction(db, org_id, "customer edit", patch)


BUSY_MESSAGE = (
    "Another operation on this organisation's customers (a pipeline run resolving message authors,"
    " another merge, import or edit) was in the way; nothing changed. Try again shortly."
)


def _customer_transaction(db: Database, org_id: int, what: str, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction that first takes the organisation's customer lock, exclusive
    (every customer write of the API: create, edit, merge, import).

    On PostgreSQL the lock waits at most `customer_lock_timeout_seconds` for a resolution run (or
    another customer write) of the organisation; a transaction PostgreSQL still aborts to break a
    deadlock is run again (`conflicts.retry_transaction`). Past either: 409 `busy`, nothing changed.
    Taken before any row lock, so a write and a run never wait for each other's rows both ways, and
    the write reads what the run committed (a domain it claimed is then a 409 `conflict`).
    """

    def attempt() -> T:
        with _transaction(db) as conn:
            limit_lock_waits(conn, db.customer_lock_timeout_seconds)
            lock_organisation_customers(conn, [org_id], shared=False)
            return work(conn)

    try:
        result, _ = retry_transaction(attempt, what=what)
    except DBAPIError as error:
        if not is_concurrency_conflict(error):
            raise
        LOGGER.warning("%s refused as busy (SQLSTATE %s)", what, sqlstate(error))
        raise CorrectionError(409, "busy", BUSY_MESSAGE) from None
    return result


def merge_customers(db: Database, principal: Principal, source_id: int, into_id: int) -> dict[str, Any]:
    """Merge customer `source_id` into `into_id` (any two of the organisation, auto-created or not);
    the kept customer as a `CustomerDetail`. Refused before any write: into itself (400), an id
    that is not the organisation's (404); a resolution run or another merge that keeps the
    organisation's customers past the wait (409 `busy`)."""
    org_id = principal.org_id
    if source_id == into_id:
        raise CorrectionError(400, "invalid_correction", "A customer cannot be merged into itself.", "into")

    def merge(conn: Connection) -> dict[str, Any]:
        found = lock_customers(conn, org_id, [source_id, into_id])
        if source_id not in found:
            raise CorrectionError(404, "not_found", f"Customer {source_id} not found.")
        if into_id not in found:
            raise CorrectionError(404, "not_found", f"Customer {into_id} (the merge target) not found.", "into")
        merge_customer(conn, org_id, source_id, into_id, actor=actor_of(principal))
        return _detail(conn, org_id, into_id)

    return _customer_transaction(db, org_id, "customer merge", merge)


def import_file(db: Database, principal: Principal, frame: pd.DataFrame) -> dict[str, Any]:
    """Import a CRM export read by `customer_import.read_customer_file`; a `CustomerImportReport` document.
    409 `busy` as `merge_customers`."""
    org_id = principal.org_id
    report = _customer_transaction(
        db, org_id, "customer import", lambda conn: customer_import.import_customers(conn, org_id, frame)
    )
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "merged": report.merged,
        "rejected": [{"line": rejected.line, "reason": rejected.reason} for rejected in report.rejected],
    }
