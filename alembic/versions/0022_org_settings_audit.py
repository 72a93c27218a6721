"""org_settings_audit: who changed which organisation setting, when, through what, before and after

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 08:10:00.000000

Organisation settings (`organizations.settings`: PII redaction, monthly LLM budget, call model,
first-pass threshold, internal domains) change through PATCH /v1/organization/settings and the
`headway orgs` commands. Until now a change was only a line on the `headway_api.audit` logger,
and the CLI's changes were not recorded at all. One row per changed setting, read newest first by
GET /v1/organization/settings/history (the index is that listing's keyset).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# JSONB on PostgreSQL, JSON elsewhere, as in headway_assets.core.warehouse.schema.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "org_settings_audit",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("setting", sa.String(64), nullable=False),
        sa.Column("before", JSON_DOCUMENT, nullable=True),
        sa.Column("after", JSON_DOCUMENT, nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("token_id", sa.String(64), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_settings_audit_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_settings_audit")),
    )
    op.create_index("ix_org_settings_audit_org_id_id", "org_settings_audit", ["org_id", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_org_settings_audit_org_id_id", table_name="org_settings_audit")
    op.drop_table("org_settings_audit")
