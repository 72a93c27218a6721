"""The ORM models and the Alembic migrations describe the same warehouse, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import Base, Message, RemovedMessage


def test_migrated_database_matches_the_models(database_url: str) -> None:
    with get_engine(database_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_removed_messages_archive_holds_every_message_column() -> None:
    # A column added to `messages` must be archived too, or a restore would lose it.
    archived = {column.name for column in RemovedMessage.__table__.columns}
    for column in Message.__table__.columns:
        assert ("message_id" if column.name == "id" else column.name) in archived, column.name
