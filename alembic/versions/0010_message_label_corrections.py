"""message label corrections: people's tier-1 labels, which the pipeline keeps; LLM spend per organisation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 20:20:00.000000

`message_label_corrections` holds a person's label for a message (PATCH /v1/messages/{id}/label);
`message_labels.labelled_by` marks the label rows written from one, which tier-1 never replaces.
`llm_usage` gains the organisation a row's spend was for (monthly budgets, spend per month on the
API) and the cache-write tokens Anthropic bills for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("message_labels", sa.Column("labelled_by", sa.String(320), nullable=True))
    op.add_column("llm_usage", sa.Column("cache_write_tokens", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("llm_usage", sa.Column("org_id", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_llm_usage_org_created"), "llm_usage", ["org_id", "created_at"], unique=False)
    op.create_table(
        "message_label_corrections",
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("is_feedback", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("relevance", sa.Integer(), nullable=False),
        sa.Column("labelled_by", sa.String(320), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_label_corrections_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_message_label_corrections_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_label_corrections")),
    )
    op.create_index(op.f("ix_message_label_corrections_org_id"), "message_label_corrections", ["org_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_message_label_corrections_org_id"), table_name="message_label_corrections")
    op.drop_table("message_label_corrections")
    op.drop_index(op.f("ix_llm_usage_org_created"), table_name="llm_usage")
    op.drop_column("llm_usage", "org_id")
    op.drop_column("llm_usage", "cache_write_tokens")
    op.drop_column("message_labels", "labelled_by")
