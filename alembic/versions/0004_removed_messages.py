"""removed messages archive, held removals in sync history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 11:14:40.900821
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere, as in headway_assets.core.warehouse.schema.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Removals are soft: a removed message's whole row moves here (see schema.RemovedMessage).
    op.create_table(
        "removed_messages",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("connection_id", BIGINT_KEY, nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("thread_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("author_name", sa.String(length=255), nullable=True),
        sa.Column("author_email", sa.String(length=320), nullable=True),
        sa.Column("author_is_internal", sa.Boolean(), nullable=True),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("source_metadata", JSON_DOCUMENT, nullable=False),
        sa.Column("sync_run_id", BIGINT_KEY, nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by_dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("removed_by_sync_run_id", BIGINT_KEY, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["source_connections.id"],
            name=op.f("fk_removed_messages_connection_id_source_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_removed_messages_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_sync_run_id"],
            ["sync_runs.id"],
            name=op.f("fk_removed_messages_removed_by_sync_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["sync_runs.id"],
            name=op.f("fk_removed_messages_sync_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removed_messages")),
    )
    with op.batch_alter_table("removed_messages", schema=None) as batch_op:
        batch_op.create_index("ix_removed_messages_connection_sent_at", ["connection_id", "sent_at"], unique=False)
        batch_op.create_index(
            "ix_removed_messages_org_source_external", ["org_id", "source", "external_id"], unique=False
        )
        batch_op.create_index("ix_removed_messages_run", ["removed_by_dagster_run_id"], unique=False)

    # Existing sync history held nothing: the server default fills the old rows with 0.
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("messages_held", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Revert this revision (archived removed messages are dropped with their table)."""
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("messages_held")

    with op.batch_alter_table("removed_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_removed_messages_run")
        batch_op.drop_index("ix_removed_messages_org_source_external")
        batch_op.drop_index("ix_removed_messages_connection_sent_at")

    op.drop_table("removed_messages")
