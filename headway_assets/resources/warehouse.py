"""The warehouse as a Dagster resource: every asset writes through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field
from sqlalchemy import Connection

from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse import database


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy access to the Headway warehouse (SQLite by default, PostgreSQL by URL)."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means HEADWAY_DATABASE_URL or the embedded SQLite file.",
    )

    @property
    def url(self) -> str:
        """The effective database URL (contains a password on PostgreSQL: never log it)."""
        return self.database_url or get_settings().pipeline.warehouse_url

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, for logs and metadata."""
        return database.redact_database_url(self.url)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`: used as a kind tag and in metadata."""
        return database.get_engine(self.url).dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (committed on success, rolled back on error)."""
        with database.write_transaction(self.url) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection."""
        with database.read_connection(self.url) as conn:
            yield conn

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent)."""
        database.migrate(self.url)
