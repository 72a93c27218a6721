"""The bounded retry of a whole transaction PostgreSQL aborted to break a deadlock (the second line
behind the organisations' customer lock), with two real sessions deadlocking on purpose."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from headway_assets.core.warehouse.conflicts import DEADLOCK_DETECTED, retry_transaction, sqlstate
from headway_assets.core.warehouse.database import get_engine, write_transaction

LOCK_CLASS = 0x54455354  # a class of advisory locks of this test only


def _lock(conn: Connection, key: int) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:lock_class, :key)"), {"lock_class": LOCK_CLASS, "key": key})


def _wait_until_waiting(url: str, timeout: float = 30) -> None:
    """Until a session waits for one of this test's advisory locks."""
    deadline = time.monotonic() + timeout
    with get_engine(url).connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND NOT granted"),
                {"c": LOCK_CLASS},
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waited")


def test_a_transaction_aborted_by_a_deadlock_is_run_again_and_succeeds(postgres_database_url: str) -> None:
    """A takes lock 1 and waits for 2; B holds 2 and then asks for 1. A waited first, so its
    backend finds the cycle and aborts A's transaction; the retry runs A again, which waits for B
    and then completes. Without the retry A's caller gets the deadlock error."""
    url = postgres_database_url
    b_holds_2 = threading.Event()
    attempts: list[int] = []
    outcome: list[object] = []

    def transaction_a() -> str:
        attempts.append(1)
        with write_transaction(url) as conn:
            _lock(conn, 1)
            b_holds_2.wait(30)
            _lock(conn, 2)
        return "done"

    def run_a() -> None:
        try:
            outcome.append(retry_transaction(transaction_a, what="test", max_wait=0.1))
        except BaseException as error:  # reported below
            outcome.append(error)

    thread = threading.Thread(target=run_a)
    thread.start()
    with write_transaction(url) as conn_b:
        _lock(conn_b, 2)
        b_holds_2.set()
        _wait_until_waiting(url)  # A waits for 2
        _lock(conn_b, 1)  # the cycle: A's backend (waiting longer) breaks it by aborting A
    thread.join(timeout=60)
    assert outcome == [("done", 1)] and len(attempts) == 2


def test_the_retry_gives_up_after_its_attempts(postgres_database_url: str) -> None:
    """A transaction deadlocking every time is tried `attempts` times, then the error is raised as it was."""
    url = postgres_database_url
    calls: list[int] = []

    def always_deadlocks() -> None:
        calls.append(1)
        with write_transaction(url) as conn:
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$"))

    with pytest.raises(DBAPIError) as raised:
        retry_transaction(always_deadlocks, what="test", attempts=3, max_wait=0.01)
    assert sqlstate(raised.value) == DEADLOCK_DETECTED and len(calls) == 3
