"""The API's database access: one place for every read and write the API makes.

Reads go through a `Reader`, whatever the backend: query functions are `async def` and call
`await reader.rows(statement, values)` (or `dicts`) with SQLAlchemy Core statements built once
per query shape (`headway_api.queries`).

- On PostgreSQL the reader is asynchronous end to end: each statement is compiled once by
  SQLAlchemy's psycopg dialect (the SQL SQLAlchemy itself would send, with the same bind and
  result processing), then run on psycopg 3 `AsyncConnection`s in autocommit mode, from a
  `psycopg_pool.AsyncConnectionPool` per event loop. A request never leaves the event loop: no
  worker thread, no ORM Session, no per-statement SQLAlchemy execution machinery.
- On SQLite (the embedded default, which has no asyncio driver here) the reader runs each
  statement on SQLAlchemy's engine in the thread pool, at most `DB_THREADS` at once.

Writes (sign-in attempts, sync requests, connections) are rare; they keep SQLAlchemy sessions on
the synchronous engine, run through `BlockingRunner`.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

import anyio
import anyio.to_thread
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from headway_assets.core.settings import ApiSettings
from headway_assets.core.warehouse.database import create_warehouse_engine, migrate, normalise_database_url

P = ParamSpec("P")
R = TypeVar("R")
Row = Sequence[Any]
# Seconds a pooled PostgreSQL connection lives before it is replaced (as SQLAlchemy's pool_recycle;
# psycopg_pool spreads the replacements by a few percent so they do not all happen at once).
POOL_RECYCLE_SECONDS = 1800.0
# Execution option of a statement whose best plan depends on its values (skewed data): PostgreSQL
# plans it at every execution instead of settling on one generic plan for a prepared statement.
PLAN_EACH_EXECUTION = "headway_plan_each_execution"
# Seconds a connection beyond DB_POOL_SIZE may sit idle before it is closed: closing it as soon as
# it came back cost a server process start at every burst just above the pool size, which showed
# as the API's tail latency (see docs/benchmarks.md).
OVERFLOW_IDLE_SECONDS = 30.0
# Compiled statements kept per reader; the query builders make a bounded number of shapes.
MAX_COMPILED_STATEMENTS = 2048


class BlockingRunner:
    """Runs blocking database functions in the thread pool, at most `threads` at once.

    More threads than that only queue on the connection pool, and every extra thread contends for
    the GIL, which inflates tail latency under load (see docs/benchmarks.md).
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiters: dict[int, anyio.CapacityLimiter] = {}

    def _limiter(self) -> anyio.CapacityLimiter:
        # One limiter per event loop (anyio binds it to the loop that made it).
        loop = id(asyncio.get_running_loop())
        limiter = self._limiters.get(loop)
        if limiter is None:
            self._limiters = {loop: anyio.CapacityLimiter(self.threads)}
            limiter = self._limiters[loop]
        return limiter

    async def __call__(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs), limiter=self._limiter())


class Reader:
    """Runs read statements: `rows` gives tuples in SELECT order, `dicts` gives them keyed by column."""

    async def rows(self, statement: Executable, values: Mapping[str, Any]) -> list[Row]:
        """Every row of `statement` run with the bound `values`."""
        return (await self._fetch(statement, values))[1]

    async def dicts(self, statement: Executable, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of `statement` as a dict keyed by its column keys (labels)."""
        keys, rows = await self._fetch(statement, values)
        return [dict(zip(keys, row, strict=True)) for row in rows]

    async def dict_or_none(self, statement: Executable, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row of `statement` as a dict, or None when there is none."""
        keys, rows = await self._fetch(statement, values)
        return dict(zip(keys, rows[0], strict=True)) if rows else None

    async def _fetch(self, statement: Executable, values: Mapping[str, Any]) -> tuple[Sequence[str], list[Row]]:
        raise NotImplementedError

    async def close(self) -> None:
        """Close the connections this event loop's reads opened (before the loop stops)."""

    def dispose(self) -> None:
        """Close the idle connections (connections in use close when they are given back)."""


class SqliteReader(Reader):
    """Reads through SQLAlchemy's engine in the thread pool (SQLite has no asyncio driver here)."""

    def __init__(self, engine: Engine, run: BlockingRunner) -> None:
        self.engine = engine
        self.run = run

    async def _fetch(self, statement: Executable, values: Mapping[str, Any]) -> tuple[Sequence[str], list[Row]]:
        return await self.run(self._execute, statement, values)

    def _execute(self, statement: Executable, values: Mapping[str, Any]) -> tuple[Sequence[str], list[Row]]:
        # A connection per statement: its read transaction ends, and the connection goes back to
        # the pool, before the thread is released.
        with self.engine.connect() as conn:
            result = conn.execute(statement, dict(values))
            return list(result.keys()), list(result.all())


class _CompiledStatement:
    """One statement compiled for psycopg, with SQLAlchemy's bind and result processing for it."""

    __slots__ = ("bind_processors", "compiled", "keys", "prepare", "result_processors", "statement", "types")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self.statement = statement  # held, so the cache key (its id) is never reused
        self.compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        columns = list(getattr(statement, "selected_columns", ()))
        self.keys: list[str] | None = [column.key for column in columns] or None
        self.types = [column.type for column in columns]
        self.bind_processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in self.compiled.bind_names.items():
            if bind.literal_execute or bind.expanding:
                continue  # rendered into the SQL text, or expanded with their own processors
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind_processors[name] = processor
        # psycopg prepares a statement on the server after its fifth run on a connection (None);
        # False keeps it unprepared, so PostgreSQL plans each execution for its values.
        self.prepare: bool | None = False if statement.get_execution_options().get(PLAN_EACH_EXECUTION) else None
        # Built at the first execution, from the column types the server reports (as SQLAlchemy does).
        self.result_processors: list[tuple[int, Callable[[Any], Any]]] | None = None

    def bind(self, values: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        """The SQL text (post-compile values such as the page size rendered) and the processed parameters."""
        expanded = self.compiled.construct_expanded_state(dict(values))
        parameters = expanded.parameters
        processors = {**self.bind_processors, **expanded.processors} if expanded.processors else self.bind_processors
        if processors:
            parameters = {
                name: processors[name](value) if name in processors else value for name, value in parameters.items()
            }
        return expanded.statement, parameters

    def prepare_results(self, cursor: psycopg.AsyncCursor[Any], dialect: Dialect) -> None:
        """Learn the result columns' keys and processors from the first execution's description."""
        description = cursor.description or []
        if self.keys is None or len(self.keys) != len(description):
            self.keys = [column.name for column in description]
            self.types = []
        processors = []
        for index, type_ in enumerate(self.types):
            processor = type_.dialect_impl(dialect).result_processor(dialect, description[index].type_code)
            if processor is not None:
                processors.append((index, processor))
        self.result_processors = processors


def read_session_options(statement_timeout_ms: int) -> str:
    """The libpq `options` of the API's PostgreSQL read connections (server settings per session)."""
    # UTC: the API serves every timestamp in UTC; the server sends them so, and the driver has no
    # time zone to convert from (a zoneinfo conversion per value otherwise).
    options = ["-c TimeZone=UTC"]
    if statement_timeout_ms:
        # A runaway read (a search matching half the warehouse) is cancelled, not left holding a
        # connection; the API answers 503 query_timeout.
        options.append(f"-c statement_timeout={statement_timeout_ms}")
    return " ".join(options)


class PostgresReader(Reader):
    """Reads on a pool of psycopg `AsyncConnection`s (autocommit; `read_session_options` per connection).

    Autocommit: each SELECT is one round trip with no BEGIN and ROLLBACK around it (the pipeline
    writes a partition in one transaction, so every statement sees whole partitions). psycopg
    prepares a statement on the server after its fifth run on a connection.
    """

    def __init__(self, engine: Engine, settings: ApiSettings) -> None:
        # The engine's own dialect compiles the statements and makes the connection arguments, so
        # the SQL, the parameters and the connections are the ones SQLAlchemy would use.
        self.engine = engine
        self.dialect = engine.dialect
        self._initialised = False
        cargs, cparams = self.dialect.create_connect_args(engine.url)
        options = f"{cparams.pop('options', '')} {read_session_options(settings.db_statement_timeout_ms)}".strip()
        self._conninfo = str(cargs[0]) if cargs else ""
        self._connect_kwargs: dict[str, Any] = {**cparams, "options": options, "autocommit": True}
        self.size = settings.db_pool_size
        self.overflow = settings.db_max_overflow
        self.timeout = settings.db_pool_timeout
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]] = {}
        self._opening: dict[asyncio.AbstractEventLoop, asyncio.Task[AsyncConnectionPool[Any]]] = {}
        # Every connection a pool opened, so `dispose` can close them without the pool's event loop.
        self._connections: dict[asyncio.AbstractEventLoop, weakref.WeakSet[psycopg.AsyncConnection[Any]]] = {}
        self._statements: dict[int, _CompiledStatement] = {}

    async def _pool(self) -> AsyncConnectionPool[Any]:
        # Connections belong to the event loop that opened them: one pool per loop (a server has
        # one; test clients may start several in turn).
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            opening = self._opening.get(loop)
            if opening is None:  # the first read on this loop; the others wait for the same pool
                for other in [other for other in self._pools if other.is_closed()]:
                    self._pools.pop(other)
                    self._close_connections(other)
                opening = self._opening[loop] = loop.create_task(self._open_pool())
            try:
                pool = self._pools[loop] = await asyncio.shield(opening)
            finally:
                if opening.done():
                    self._opening.pop(loop, None)
        return pool

    async def _open_pool(self) -> AsyncConnectionPool[Any]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._conninfo,
            kwargs=self._connect_kwargs,
            min_size=self.size,
            max_size=self.size + self.overflow,
            timeout=self.timeout,
            max_idle=OVERFLOW_IDLE_SECONDS,
            max_lifetime=POOL_RECYCLE_SECONDS,
            configure=self._track,
            name="headway-api-reads",
            open=False,
        )
        # No check on checkout (a round trip per read): a connection the server dropped fails one
        # read, which then has the pool check the idle ones (see `_fetch`).
        await pool.open(wait=False)
        return pool

    async def _track(self, connection: psycopg.AsyncConnection[Any]) -> None:
        # Run by the pool on each new connection, in the pool's event loop.
        self._connections.setdefault(asyncio.get_running_loop(), weakref.WeakSet()).add(connection)

    def _close_connections(self, loop: asyncio.AbstractEventLoop) -> None:
        # Connections of a pool whose event loop is gone: only libpq can still close them.
        for connection in list(self._connections.pop(loop, ())):
            if not connection.closed:
                connection.pgconn.finish()

    def _compiled(self, statement: Executable) -> _CompiledStatement:
        compiled = self._statements.get(id(statement))
        if compiled is None:
            if len(self._statements) >= MAX_COMPILED_STATEMENTS:
                self._statements.clear()
            compiled = self._statements[id(statement)] = _CompiledStatement(statement, self.dialect)
        return compiled

    def _initialise(self) -> None:
        # SQLAlchemy's dialect learns the server's settings when its engine first connects (among
        # them standard_conforming_strings, which decides how a backslash in a literal is written).
        with self.engine.connect():
            self._initialised = True

    async def _fetch(self, statement: Executable, values: Mapping[str, Any]) -> tuple[Sequence[str], list[Row]]:
        if not self._initialised:
            await anyio.to_thread.run_sync(self._initialise)  # once per process
        compiled = self._compiled(statement)
        sql, parameters = compiled.bind(values)
        pool = await self._pool()
        try:
            connection = await pool.getconn()
        except PoolTimeout:
            # SQLAlchemy's pool timeout, as before psycopg_pool: callers handle one error type.
            raise PoolTimeoutError(
                f"no database connection came free within {self.timeout:g} s "
                f"({self.size + self.overflow} in use; raise DB_POOL_SIZE or DB_MAX_OVERFLOW)"
            ) from None
        try:
            cursor = connection.cursor()
            await cursor.execute(sql, parameters, prepare=compiled.prepare)
            rows: list[Row] = await cursor.fetchall()
        except psycopg.Error as error:
            # The same exception SQLAlchemy raises, so one error handler serves both backends.
            raise DBAPIError.instance(sql, parameters, error, psycopg.Error) from error
        finally:
            # psycopg_pool closes a connection given back broken or with a query still running (a
            # cancelled request) and keeps the others.
            broken = connection.broken
            await pool.putconn(connection)
            if broken:
                # A server restart drops every connection: replace the dead idle ones now, so only
                # this read fails (as SQLAlchemy's pool invalidates its older connections).
                await pool.check()
        if compiled.result_processors is None:
            compiled.prepare_results(cursor, self.dialect)
        processors = compiled.result_processors
        if processors:
            processed: list[Row] = []
            for row in rows:
                values_ = list(row)
                for index, processor in processors:
                    values_[index] = processor(values_[index])
                processed.append(values_)
            rows = processed
        keys = compiled.keys
        assert keys is not None  # set by prepare_results at the latest
        return keys, rows

    async def close(self) -> None:
        """Close this event loop's pool (connections in use close when they are given back)."""
        loop = asyncio.get_running_loop()
        pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.close()
        self._connections.pop(loop, None)

    def dispose(self) -> None:
        """Close every pool's connections, whatever their event loop (for when none is running)."""
        self._pools.clear()
        for loop in list(self._connections):
            self._close_connections(loop)


class Database:
    """The warehouse as the API uses it: a `reader` for every read, an engine for writes.

    Writes (sign-in attempts, sync requests) run in a transaction on `engine` (BEGIN IMMEDIATE on
    SQLite), through `write_session` in a worker thread.
    """

    def __init__(self, url: str, settings: ApiSettings, run: BlockingRunner) -> None:
        self.url = normalise_database_url(url)
        self.backend = make_url(self.url).get_backend_name()
        self.customer_lock_timeout_seconds = settings.customer_lock_timeout_seconds
        self.reader: Reader
        if self.backend == "sqlite":
            # The shared factory sets up WAL, the busy timeout and BEGIN IMMEDIATE for writers.
            self.engine: Engine = create_warehouse_engine(self.url)
            self.reader = SqliteReader(self.engine, run)
        else:
            # The API sizes its own pool (one per worker process) and skips the per-checkout ping:
            # a connection broken by a server restart fails one request and the pool is refilled.
            self.engine = create_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout,
                pool_pre_ping=False,
                pool_recycle=POOL_RECYCLE_SECONDS,
                # Bound values (message text, e-mail addresses) stay out of logged SQL errors.
                hide_parameters=True,
            )
            self.reader = PostgresReader(self.engine, settings)

    def write_session(self) -> Session:
        """A session for one request's writes: one transaction (BEGIN IMMEDIATE on SQLite); commit it."""
        session = Session(bind=self.engine, autoflush=False, expire_on_commit=False)
        session.connection(execution_options={"headway_write": True})
        return session

    def ensure_schema(self) -> None:
        """Migrate an embedded SQLite warehouse to the latest schema (PostgreSQL is its operator's job)."""
        if self.backend == "sqlite":
            migrate(self.url)

    async def aclose(self) -> None:
        """Close every pooled connection, from the event loop that served the reads."""
        await self.reader.close()
        self.dispose()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.reader.dispose()
        self.engine.dispose()
