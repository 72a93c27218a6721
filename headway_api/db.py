"""The API's database access: one place for every read and write the API makes.

Reads go through a `Reader`, whatever the backend: query functions are `async def` and call
`await reader.rows(statement, values)` (or `dicts`) with SQLAlchemy Core statements built once
per query shape (`headway_api.queries`).

- On PostgreSQL the reader is asynchronous end to end: each statement is compiled once by
  SQLAlchemy's psycopg dialect (the SQL SQLAlchemy itself would send, with the same bind and
  result processing), then run on a pool of psycopg 3 `AsyncConnection`s in autocommit mode. A
  request never leaves the event loop: no worker thread, no ORM Session, no per-statement
  SQLAlchemy execution machinery.
- On SQLite (the embedded default, which has no asyncio driver here) the reader runs each
  statement on SQLAlchemy's engine in the thread pool, at most `DB_THREADS` at once.

Writes (sign-in attempts, sync requests, connections) are rare; they keep SQLAlchemy sessions on
the synchronous engine, run through `BlockingRunner`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, cast

import anyio
import anyio.to_thread
import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from headway_api.core.config import ApiSettings
from headway_assets.core.warehouse.database import create_warehouse_engine, migrate, normalise_database_url

P = ParamSpec("P")
R = TypeVar("R")
Row = Sequence[Any]
# Seconds a pooled PostgreSQL connection lives before it is replaced (as SQLAlchemy's pool_recycle).
POOL_RECYCLE_SECONDS = 1800.0
# Execution option of a statement whose best plan depends on its values (skewed data): PostgreSQL
# plans it at every execution instead of settling on one generic plan for a prepared statement.
PLAN_EACH_EXECUTION = "headway_plan_each_execution"
# Seconds a connection beyond DB_POOL_SIZE may sit idle before it is closed.
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


@dataclass(slots=True)
class _Pooled:
    connection: psycopg.AsyncConnection[Any]
    born: float
    last_used: float = 0.0


@dataclass
class _ConnectionPool:
    """The PostgreSQL connections of one event loop: at most `size + overflow` open.

    Idle connections are reused most recently used first. Those beyond `size` are closed once
    they have sat idle for `OVERFLOW_IDLE_SECONDS` (checked as connections come back), not as soon
    as they come back: under load just above `size`, closing and reopening them on every burst
    costs a server process start each time, which showed as the API's tail latency (see
    docs/benchmarks.md). A connection the server dropped is closed, and so are the idle ones (a
    server restart drops them all; as SQLAlchemy's pool invalidates its older connections).
    """

    size: int
    overflow: int
    timeout: float
    idle: list[_Pooled] = field(default_factory=list)
    closed: bool = False
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.size + self.overflow)

    async def acquire(self, connect: Callable[[], Any]) -> _Pooled:
        """A connection of this pool (waits up to `timeout` seconds for one to be given back)."""
        if self.slots.locked():
            try:
                async with asyncio.timeout(self.timeout):
                    await self.slots.acquire()
            except TimeoutError:
                raise PoolTimeoutError(
                    f"no database connection came free within {self.timeout:g} s "
                    f"({self.size + self.overflow} in use; raise DB_POOL_SIZE or DB_MAX_OVERFLOW)"
                ) from None
        else:
            await self.slots.acquire()  # a slot is free: no wait, no timer
        try:
            now = time.monotonic()
            while self.idle:
                pooled = self.idle.pop()  # the most recently used: warm caches, prepared statements
                if not pooled.connection.closed and now - pooled.born < POOL_RECYCLE_SECONDS:
                    return pooled
                pooled.connection.pgconn.finish()
            return _Pooled(await connect(), born=now)
        except BaseException:
            self.slots.release()
            raise

    def release(self, pooled: _Pooled, reusable: bool) -> None:
        """Give a connection back; one that is broken, busy or surplus is closed instead."""
        try:
            connection = pooled.connection
            sound = reusable and not connection.broken and not connection.closed
            if sound and connection.info.transaction_status == TransactionStatus.IDLE and not self.closed:
                pooled.last_used = now = time.monotonic()
                self.idle.append(pooled)
                # The least recently used sit at the bottom: close those beyond `size` idle too long.
                while len(self.idle) > self.size and now - self.idle[0].last_used > OVERFLOW_IDLE_SECONDS:
                    self.idle.pop(0).connection.pgconn.finish()
                return
            connection.pgconn.finish()
            if connection.broken:
                self.close_idle()
        finally:
            self.slots.release()

    def close_idle(self) -> None:
        """Close every idle connection."""
        while self.idle:
            self.idle.pop().connection.pgconn.finish()

    def close(self) -> None:
        """Close the idle connections now and every other one when it comes back."""
        self.closed = True
        self.close_idle()


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
        self._connect_args = (tuple(cargs), {**cparams, "options": options})
        self.size = settings.db_pool_size
        self.overflow = settings.db_max_overflow
        self.timeout = settings.db_pool_timeout
        self._pools: dict[asyncio.AbstractEventLoop, _ConnectionPool] = {}
        self._statements: dict[int, _CompiledStatement] = {}

    def _pool(self) -> _ConnectionPool:
        # Connections belong to the event loop that opened them: one pool per loop (a server has
        # one; test clients may start several in turn).
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            for other in [other for other in self._pools if other.is_closed()]:
                self._pools.pop(other).close()
            pool = self._pools[loop] = _ConnectionPool(self.size, self.overflow, self.timeout)
        return pool

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        cargs, cparams = self._connect_args
        try:
            return await psycopg.AsyncConnection.connect(*cargs, autocommit=True, **cparams)
        except psycopg.Error as error:
            raise DBAPIError.instance(None, None, error, psycopg.Error) from error

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
        pool = self._pool()
        pooled = await pool.acquire(self._connect)
        reusable = False
        try:
            cursor = pooled.connection.cursor()
            await cursor.execute(sql, parameters, prepare=compiled.prepare)
            rows: list[Row] = await cursor.fetchall()
            reusable = True
        except psycopg.Error as error:
            reusable = True  # released only if the connection is still sound (checked there)
            # The same exception SQLAlchemy raises, so one error handler serves both backends.
            raise DBAPIError.instance(sql, parameters, error, psycopg.Error) from error
        finally:
            # Anything else (a cancelled request) may leave a query running: the connection is closed.
            pool.release(pooled, reusable)
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

    def dispose(self) -> None:
        """Close every pool's idle connections (any loop's; connections in use close when released)."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class Database:
    """The warehouse as the API uses it: a `reader` for every read, an engine for writes.

    Writes (sign-in attempts, sync requests) run in a transaction on `engine` (BEGIN IMMEDIATE on
    SQLite), through `write_session` in a worker thread.
    """

    def __init__(self, url: str, settings: ApiSettings, run: BlockingRunner) -> None:
        self.url = normalise_database_url(url)
        self.backend = make_url(self.url).get_backend_name()
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

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.reader.dispose()
        self.engine.dispose()
