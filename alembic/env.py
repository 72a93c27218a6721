"""Alembic environment: migrates the warehouse named by HEADWAY_DATABASE_URL (or the SQLite default)."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from sqlalchemy import Connection

from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.database import create_warehouse_engine, normalise_database_url
from headway_assets.core.warehouse.schema import Base, UtcDateTime

config = context.config
if config.config_file_name is not None and not config.attributes.get("database_url"):
    # Only the alembic command line configures logging; `migrate()` callers keep theirs.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    return normalise_database_url(config.attributes.get("database_url") or get_settings().warehouse_url)


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, sa.JSON):
        return "JSON_DOCUMENT"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the live database."""
    engine = create_warehouse_engine(_database_url(), pooled=False)
    with engine.connect() as connection:
        connection.execution_options(headway_write=True)
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
