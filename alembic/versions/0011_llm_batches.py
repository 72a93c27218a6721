"""llm batches: tier-1, tier-2, insight and matching work sent through the vendors' batch APIs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:00:00.000000

`llm_batches` records each vendor batch (Anthropic Message Batches, OpenAI Batch API): who
submitted it, its vendor status and how it ended; `llm_batch_requests` holds its packed calls and
their items' content hashes, so landed answers go into `llm_cache` under the live path's keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "llm_batches",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("vendor_batch_id", sa.String(128), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("prompt_version", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("partition_start", sa.String(32), nullable=True),
        sa.Column("partition_end", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("vendor_status", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_of", BIGINT_KEY, nullable=True),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("errored", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_read_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_batches")),
        sa.UniqueConstraint("vendor_batch_id", name=op.f("uq_llm_batches_vendor_batch_id")),
    )
    op.create_index(op.f("ix_llm_batches_status"), "llm_batches", ["status"], unique=False)
    op.create_table(
        "llm_batch_requests",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("batch_id", BIGINT_KEY, nullable=False),
        sa.Column("custom_id", sa.String(64), nullable=False),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("request", JSON_DOCUMENT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["llm_batches.id"],
            name=op.f("fk_llm_batch_requests_batch_id_llm_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_batch_requests")),
        sa.UniqueConstraint("batch_id", "custom_id", name=op.f("uq_llm_batch_requests_batch_id_custom_id")),
    )
    op.create_index(op.f("ix_llm_batch_requests_batch_id"), "llm_batch_requests", ["batch_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_llm_batch_requests_batch_id"), table_name="llm_batch_requests")
    op.drop_table("llm_batch_requests")
    op.drop_index(op.f("ix_llm_batches_status"), table_name="llm_batches")
    op.drop_table("llm_batches")
