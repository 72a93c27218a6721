"""Engines and migrations for the warehouse: one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from headway_assets.core.settings import PROJECT_ROOT

ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def normalise_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3.

    dagster-postgres installs psycopg2, which SQLAlchemy would otherwise pick for a bare
    `postgresql://` URL; the warehouse is written for psycopg 3.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redact_database_url(url: str) -> str:
    """The URL with its password hidden, for logs, metadata and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a Dagster step writes; the busy timeout makes parallel
    # steps wait for the write lock instead of failing; SQLite ignores foreign keys by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    # Writers take SQLite's write lock when their transaction starts, not at the first write,
    # so two writers never fail upgrading read locks; readers keep a deferred BEGIN and never
    # block anyone (WAL).
    mode = "IMMEDIATE" if conn.get_execution_options().get("headway_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_warehouse_engine(url: str, *, pooled: bool = True) -> Engine:
    """A new engine for `url` (SQLite file folders are created on demand)."""
    url = normalise_database_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE is ours.
        kwargs["connect_args"]["isolation_level"] = None
    else:
        kwargs["pool_pre_ping"] = True
    if not pooled:
        kwargs["poolclass"] = NullPool
    # Bound values (message text, e-mail addresses) stay out of SQL error messages, which reach
    # run logs, metadata and alerts.
    engine = create_engine(url, hide_parameters=True, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


def get_engine(url: str) -> Engine:
    """A process-wide engine per URL, so Dagster steps and API requests share a pool."""
    key = normalise_database_url(url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = create_warehouse_engine(key)
            _ENGINES[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests dropping databases call this first)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def write_transaction(url: str) -> Iterator[Connection]:
    """A connection inside one write transaction: committed on success, rolled back on error."""
    with get_engine(url).connect() as conn:
        conn.execution_options(headway_write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_connection(url: str) -> Iterator[Connection]:
    """A connection for reads (one deferred transaction, rolled back at the end)."""
    with get_engine(url).connect() as conn:
        yield conn


def migrate(url: str, revision: str = "head") -> None:
    """Bring the warehouse at `url` to `revision` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = normalise_database_url(url)
    command.upgrade(config, revision)
