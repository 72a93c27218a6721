"""The database reader on PostgreSQL: its own pool of asyncio connections, against a real server.

The read endpoints' results are tested through HTTP on both backends (test_read_endpoints.py,
test_documents.py); here is what only the PostgreSQL pool does: how many connections it opens
and keeps, what happens when the server drops them, and that a test client may drive one app
from several event loops in turn.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from headway_api.db import BlockingRunner, Database, PostgresReader
from headway_api.main import create_app
from headway_assets.core.settings import HeadwaySettings
from tests.api.support import api_settings

SLEEP = text("SELECT pg_sleep(:seconds)")
ONE = text("SELECT 1")
R = TypeVar("R")


@pytest.fixture
def tagged_url(postgres_database_url: str) -> Iterator[str]:
    """The test database's URL with an application_name of its own, to find its connections."""
    name = f"reader-test-{uuid.uuid4().hex[:8]}"
    yield f"{postgres_database_url}?application_name={name}"
    with psycopg.connect(postgres_database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,))


def _backends(url: str) -> int:
    name = url.rsplit("application_name=", 1)[1]
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def _backends_after_exit(url: str, expected: int = 0, wait_seconds: float = 5.0) -> int:
    """`_backends`, once it reaches `expected` or `wait_seconds` have passed (whichever first)."""
    deadline = time.monotonic() + wait_seconds
    count = _backends(url)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = _backends(url)
    return count


def _reader(url: str, **settings: Any) -> tuple[Database, PostgresReader]:
    database = Database(url, api_settings(**settings), BlockingRunner(2))
    assert isinstance(database.reader, PostgresReader)
    return database, database.reader


def _run(reader: PostgresReader, scenario: Coroutine[Any, Any, R]) -> R:
    """Run `scenario` in a new event loop and close the reader's pool in that loop before it ends.

    psycopg_pool's maintenance workers swallow a cancellation while they run a task (a reconnect,
    say), so a loop that ends with the pool still open can wait forever for them (seen on CI).
    """

    async def run_and_close() -> R:
        try:
            return await scenario
        finally:
            await reader.close()

    return asyncio.run(run_and_close())


def test_a_burst_opens_at_most_pool_and_overflow_and_keeps_them(tagged_url: str) -> None:
    database, reader = _reader(tagged_url, db_pool_size=1, db_max_overflow=2, db_pool_timeout=5)

    async def burst() -> tuple[int, int]:
        await asyncio.gather(*(reader.rows(SLEEP, {"seconds": 0.2}) for _ in range(5)))
        during = await asyncio.to_thread(_backends, tagged_url)
        await asyncio.gather(*(reader.rows(ONE, {}) for _ in range(3)))
        return during, await asyncio.to_thread(_backends, tagged_url)

    after_burst, after_more = _run(reader, burst())
    # Five statements at once ran on three connections (1 + 2 overflow), the other two waited;
    # the overflow stays open for the next burst rather than being closed and reopened. (One
    # more backend is the write engine's: it connected once to learn the server's settings.)
    assert after_burst == 3 + 1
    assert after_more == 3 + 1
    database.dispose()
    assert _backends_after_exit(tagged_url) == 0


def test_a_wait_longer_than_the_pool_timeout_fails(tagged_url: str) -> None:
    database, reader = _reader(tagged_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.2)

    async def crowd() -> list[Any]:
        slow = asyncio.ensure_future(reader.rows(SLEEP, {"seconds": 1}))
        # Let the slow read take the only connection first: started together, the quick read could
        # win the race for a freshly opened connection (seen on a loaded CI machine).
        await asyncio.sleep(0.3)
        assert not slow.done()
        waiting = await asyncio.gather(reader.rows(ONE, {}), return_exceptions=True)
        return [await slow, waiting[0]]

    slow, waiting = _run(reader, crowd())
    assert slow == [("",)]  # pg_sleep returns void
    assert "no database connection came free within 0.2 s" in str(waiting)
    database.dispose()


def test_connections_the_server_drops_fail_one_read_then_are_replaced(tagged_url: str) -> None:
    database, reader = _reader(tagged_url, db_pool_size=3, db_max_overflow=0)

    async def scenario() -> tuple[Any, list[Any]]:
        await asyncio.gather(*(reader.rows(SLEEP, {"seconds": 0.1}) for _ in range(3)))  # three idle now
        name = tagged_url.rsplit("application_name=", 1)[1]
        with psycopg.connect(tagged_url.split("?")[0], autocommit=True) as admin:  # a server restart, in effect
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,))
        await asyncio.sleep(0.2)
        try:
            await reader.rows(ONE, {})
        except DBAPIError as error:
            first: Any = error
        else:
            first = None
        # The dead idle connections went with the first failure: the next reads all succeed.
        return first, [await reader.rows(ONE, {}) for _ in range(3)]

    first, later = _run(reader, scenario())
    assert isinstance(first, DBAPIError)
    assert later == [[(1,)]] * 3
    database.dispose()


def test_an_app_serves_from_one_event_loop_after_another(tagged_url: str, tmp_path: Path) -> None:
    app = create_app(api_settings(), HeadwaySettings(database_url=tagged_url, data_dir=tmp_path))
    for _ in range(2):  # each `with` runs the app in a new event loop
        with TestClient(app) as client:
            assert client.get("/health").json()["database"] == "ok"
    # The app closed its connections when it stopped; the server lists a backend until its process
    # has exited, a few milliseconds after the client hung up (seen on a loaded CI runner).
    assert _backends_after_exit(tagged_url) == 0
