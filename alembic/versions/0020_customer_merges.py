"""customer merges: the record of each customer folded into another, read by the next CRM import

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 05:20:00.000000

A merge deletes the merged customer; without a record, the next CRM import brought it back as a
new customer (its external id was no longer known). `customer_merges` keeps who merged which
customer (name, CRM id) into which, and when; it cascades with its organisation and with the kept
customer (a later merge of the kept customer re-points the rows first).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0020"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "customer_merges",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("source_customer_id", sa.BigInteger(), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_external_id", sa.String(255), nullable=True),
        sa.Column("target_customer_id", BIGINT_KEY, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customer_merges_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_merges_target_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    op.create_index("ix_customer_merges_org_external", "customer_merges", ["org_id", "source_external_id"])
    op.create_index(
        op.f("ix_customer_merges_target_customer_id"), "customer_merges", ["target_customer_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_customer_merges_target_customer_id"), table_name="customer_merges")
    op.drop_index("ix_customer_merges_org_external", table_name="customer_merges")
    op.drop_table("customer_merges")
