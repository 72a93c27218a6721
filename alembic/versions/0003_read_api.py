"""read api: daily stats, login attempts, keyset and search indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:01:43.837682
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "login_attempts",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_client_at", ["client_ip", "attempted_at"], unique=False)
        batch_op.create_index("ix_login_attempts_username_at", ["username", "attempted_at"], unique=False)

    op.create_table(
        "daily_message_stats",
        sa.Column("org_id", BIGINT_KEY, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("feedback_count", sa.Integer(), nullable=False),
        sa.Column("relevant_count", sa.Integer(), nullable=False),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_daily_message_stats_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "day", "source", "category", name=op.f("pk_daily_message_stats")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_org_customer_sent_at_id", ["org_id", "customer", "sent_at", "id"], unique=False
        )
        batch_op.create_index("ix_messages_org_source_sent_at_id", ["org_id", "source", "sent_at", "id"], unique=False)
    # Text search: a trigram GIN index on PostgreSQL (pg_trgm is a trusted extension, so the
    # database owner may create it); SQLite gets an empty partial index of the same name.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_text_trgm",
            ["text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
            sqlite_where=sa.false(),
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_text_trgm")
        batch_op.drop_index("ix_messages_org_source_sent_at_id")
        batch_op.drop_index("ix_messages_org_customer_sent_at_id")

    op.drop_table("daily_message_stats")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_username_at")
        batch_op.drop_index("ix_login_attempts_client_at")

    op.drop_table("login_attempts")
