"""The API's database access: one engine per app, a read session and a write session per request."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from headway_api.core.config import ApiSettings
from headway_assets.warehouse.database import create_warehouse_engine, migrate, normalise_database_url


class Database:
    """The warehouse as the API uses it.

    Reads on PostgreSQL run in autocommit mode: each SELECT is one round trip, with no BEGIN and
    ROLLBACK around it (the pipeline writes a partition in one transaction, so every statement
    sees whole partitions). Writes (sign-in attempts, sync requests) run in a transaction.
    """

    def __init__(self, url: str, settings: ApiSettings) -> None:
        self.url = normalise_database_url(url)
        self.backend = make_url(self.url).get_backend_name()
        if self.backend == "sqlite":
            # The shared factory sets up WAL, the busy timeout and BEGIN IMMEDIATE for writers.
            self.engine: Engine = create_warehouse_engine(self.url)
            self.read_engine: Engine = self.engine
        else:
            # The API sizes its own pool (one per worker process) and skips the per-checkout ping:
            # a connection broken by a server restart fails one request and the pool is refilled.
            self.engine = create_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout,
                pool_pre_ping=False,
                pool_recycle=1800,
            )
            # A pool of its own for reads, autocommit from the start: no per-request switching of
            # the isolation level and nothing to roll back when a connection goes back.
            self.read_engine = create_engine(
                self.url,
                isolation_level="AUTOCOMMIT",
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout,
                pool_pre_ping=False,
                pool_recycle=1800,
                pool_reset_on_return=None,
                # A runaway read (a search matching half the warehouse) is cancelled, not left
                # holding a connection; the API answers 503 query_timeout.
                connect_args={"options": f"-c statement_timeout={settings.db_statement_timeout_ms}"},
            )

    def read_session(self) -> Session:
        """A session for one request's reads."""
        return Session(bind=self.read_engine, autoflush=False, expire_on_commit=False)

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
        self.engine.dispose()
        self.read_engine.dispose()
