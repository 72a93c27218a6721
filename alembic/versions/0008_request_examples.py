"""request examples: a few member titles kept on each request for the catalogue's matcher

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere, as in headway_assets.core.warehouse.schema.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Nullable, no default: a request written before this revision simply has no examples yet.
    op.add_column("feature_requests", sa.Column("examples", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("feature_requests", "examples")
