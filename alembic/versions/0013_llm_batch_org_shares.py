"""llm batch org shares: batch spend recorded per organisation

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 23:40:00.000000

`llm_batches.org_shares` keeps {org id: share of the submitting run's items}; landing a batch
writes its `llm_usage` rows per organisation with it, so monthly budgets and GET /v1/stats count
batch spend as they count live spend. Batches recorded before have none (their spend stays
without an organisation, as it was).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("llm_batches") as batch:
        batch.add_column(sa.Column("org_shares", JSON_DOCUMENT, nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("llm_batches") as batch:
        batch.drop_column("org_shares")
