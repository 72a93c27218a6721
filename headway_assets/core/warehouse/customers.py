"""Customers: the deal stages the warehouse knows, and the writes every path shares.

The import (`headway customers import`), the read API and the author resolution all create
customers and claim domains through here, so they agree on what a stage is called and which
customer a domain belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from headway_assets.core.warehouse.bulk import batches

SQLITE_BATCH = 5_000  # rows a SQLite executemany of `rows_source` (in-process: no round trips)

# The canonical deal stages, in funnel order.
DEAL_STAGES: tuple[str, ...] = (
    "lead",
    "qualified",
    "trial",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
    "churned",
)

# What CRM exports call them (HubSpot's internal names, Salesforce's default picklist, plain words),
# after `_stage_token` folds case, spaces and punctuation.
_STAGE_ALIASES: dict[str, str] = {
    "prospect": "lead",
    "prospecting": "lead",
    "new": "lead",
    "appointmentscheduled": "lead",
    "qualification": "qualified",
    "qualifiedtobuy": "qualified",
    "needs_analysis": "qualified",
    "value_proposition": "qualified",
    "id_decision_makers": "qualified",
    "perception_analysis": "qualified",
    "decisionmakerboughtin": "qualified",
    "pilot": "trial",
    "poc": "trial",
    "proof_of_concept": "trial",
    "evaluation": "trial",
    "presentationscheduled": "proposal",
    "proposal_price_quote": "proposal",
    "contractsent": "negotiation",
    "negotiation_review": "negotiation",
    "closedwon": "closed_won",
    "won": "closed_won",
    "customer": "closed_won",
    "active": "closed_won",
    "closedlost": "closed_lost",
    "lost": "closed_lost",
    "churn": "churned",
    "cancelled": "churned",
    "canceled": "churned",
}


def _stage_token(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def normalise_deal_stage(value: str | None) -> str | None:
    """The canonical stage for a CRM's spelling (`Closed Won` -> `closed_won`); None for a blank.

    Raises ValueError for a stage the warehouse does not know, naming the known ones.
    """
    if value is None or not str(value).strip():
        return None
    token = _stage_token(str(value))
    if token in DEAL_STAGES:
        return token
    if token in _STAGE_ALIASES:
        return _STAGE_ALIASES[token]
    raise ValueError(f"unknown deal stage {str(value)[:40]!r}; known stages: {', '.join(DEAL_STAGES)}")


def dialect_insert(conn: Connection, table: Table | Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `table` with the backend's ON CONFLICT clauses (PostgreSQL or SQLite)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def sorted_rows(rows: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Rows in one order by `keys`: concurrent writers that take row locks in the same order never deadlock."""
    return sorted(rows, key=lambda row: tuple(str(row[key]) for key in keys))


def rows_source(conn: Connection, rows: Sequence[dict[str, Any]], columns: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """`(source, parameters)` pairs that feed `rows` to one INSERT/UPDATE ... FROM source each.

    PostgreSQL: one statement for all rows, from `unnest` of one array parameter a column (a
    row-by-row executemany costs a round of parse, lock and check per row). SQLite (in-process):
    a one-row source executed once a row. `columns` maps each key of the rows to its SQL type.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        arrays = [bindparam(f"a_{name}", type_=postgresql.ARRAY(kind)) for name, kind in columns.items()]
        source = func.unnest(*arrays).table_valued(*columns).render_derived(name="v")
        yield source, {f"a_{name}": [row[name] for row in rows] for name in columns}
        return
    values = select(*(bindparam(f"b_{name}", type_=kind).label(name) for name, kind in columns.items())).subquery("v")
    for batch in batches(list(rows), SQLITE_BATCH):
        yield values, [{f"b_{name}": row[name] for name in columns} for row in batch]
