"""Transactions that meet another one: the organisation-wide customer lock, and the bounded retry
of a whole transaction PostgreSQL aborted to break a deadlock or a serialization failure.

The customer lock (PostgreSQL, transaction-level advisory lock, one per organisation) is what
keeps a customer write and an author resolution run apart: a run holds it shared for its whole
transaction, a merge, a CRM import or the API's create or edit of a customer exclusively, each
taking it before any row lock. Two such writes, or a write and a run, then never hold row locks
the other waits for, so they cannot deadlock, and a run never reads a customer a merge is
deleting (docs/reliability.md). Runs share it, so concurrent runs do not wait for each other.
SQLite needs none of it: its write transactions (BEGIN IMMEDIATE) exclude each other.

The retry is the second line, for what the lock does not order (two runs over overlapping
windows): the whole transaction is run again, at most `CONFLICT_ATTEMPTS` times, with tenacity's
randomised exponential wait. Only PostgreSQL's deadlock and serialization errors are retried;
what is logged is the operation's name, the SQLSTATE and the attempt, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import tenacity
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The first key of the organisation-wide customer lock (`pg_advisory_xact_lock(int, int)`, the
# organisation's id the second): "HWcu", a value no other advisory lock of Headway uses.
CUSTOMER_LOCK_CLASS = 0x48576375
INT4_MASK = 0x7FFFFFFF  # an id past int4 shares a lock with another: more waiting, never less safety

DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired
TRANSIENT_SQLSTATES = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})
CONFLICT_ATTEMPTS = 3


def lock_organisation_customers(conn: Connection, org_ids: Iterable[int], *, shared: bool) -> None:
    """Take the customer lock of each organisation of `org_ids` for the rest of the transaction
    (PostgreSQL; nothing on SQLite): `shared` for author resolution, exclusive for a merge or an
    import. In ascending order, so two transactions taking several never deadlock on them."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({int(org_id) & INT4_MASK for org_id in org_ids})
    if not keys:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    # One statement for every organisation (a run over all of them): a function scan of the sorted
    # array takes the locks row by row in the array's order.
    statement = text(
        f"SELECT {function}(CAST(:lock_class AS integer), key) FROM unnest(CAST(:keys AS integer[])) AS key"
    )
    conn.execute(statement, {"lock_class": CUSTOMER_LOCK_CLASS, "keys": keys}).all()


def limit_lock_waits(conn: Connection, seconds: float) -> None:
    """Let every lock wait of the rest of this transaction last at most `seconds` (PostgreSQL's
    `lock_timeout`, at least 1 ms; nothing on SQLite): past it the statement fails with
    `LOCK_NOT_AVAILABLE`, so a customer write gives up instead of waiting out a long run."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, round(seconds * 1000))}")


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error (PostgreSQL's), None for anything else."""
    if not isinstance(error, DBAPIError):
        return None
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_transient_conflict(error: BaseException) -> bool:
    """A transaction PostgreSQL aborted because of another one (deadlock, serialization): worth
    running again."""
    return sqlstate(error) in TRANSIENT_SQLSTATES


def is_concurrency_conflict(error: BaseException) -> bool:
    """A transient conflict, or a lock wait that ran out (`lock_timeout`): another operation was in the way."""
    return is_transient_conflict(error) or sqlstate(error) == LOCK_NOT_AVAILABLE


def retry_transaction(
    work: Callable[[], T], *, what: str, attempts: int = CONFLICT_ATTEMPTS, max_wait: float = 1.0
) -> tuple[T, int]:
    """Run `work` (one whole transaction, begun and committed inside it) until it is not aborted by
    a deadlock or serialization failure, at most `attempts` times; its result and how many retries
    it took. The last error is raised as it was."""

    def log(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s: transaction aborted by PostgreSQL (SQLSTATE %s), attempt %d of %d; retrying",
            what,
            sqlstate(error) if error else None,
            state.attempt_number,
            attempts,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient_conflict),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=max_wait),
        before_sleep=log,
        reraise=True,
    )
    result = retrying(work)
    return result, int(retrying.statistics.get("attempt_number", 1)) - 1
