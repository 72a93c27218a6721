"""competitors and competitor mentions: each organisation's competitors, and tier-2's mentions of them

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000

`competitors` is an organisation's list (a name and the aliases customers use for it);
`competitor_mentions` are tier-2's findings: which competitor a relevant message names, in what
context (switching from or to, comparison, pricing, other), the verbatim evidence, and the
message's feature mention it co-occurs with. Both cascade with their organisation, the mentions
also with their message and their competitor.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "competitors",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("aliases", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_competitors_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitors")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_competitors_org_id_name")),
    )
    op.create_table(
        "competitor_mentions",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("competitor_id", BIGINT_KEY, nullable=False),
        sa.Column("context", sa.String(24), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence_quote", sa.Text(), nullable=False),
        sa.Column("evidence_start", sa.Integer(), nullable=False),
        sa.Column("mention_ordinal", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("prompt_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["competitor_id"],
            ["competitors.id"],
            name=op.f("fk_competitor_mentions_competitor_id_competitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_competitor_mentions_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_competitor_mentions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitor_mentions")),
        sa.UniqueConstraint("message_id", "ordinal", name=op.f("uq_competitor_mentions_message_id_ordinal")),
    )
    op.create_index(
        "ix_competitor_mentions_org_competitor_sent_at",
        "competitor_mentions",
        ["org_id", "competitor_id", "sent_at"],
        unique=False,
    )
    op.create_index(op.f("ix_competitor_mentions_message_id"), "competitor_mentions", ["message_id"], unique=False)
    op.create_index(
        op.f("ix_competitor_mentions_competitor_id"), "competitor_mentions", ["competitor_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_competitor_mentions_competitor_id"), table_name="competitor_mentions")
    op.drop_index(op.f("ix_competitor_mentions_message_id"), table_name="competitor_mentions")
    op.drop_index("ix_competitor_mentions_org_competitor_sent_at", table_name="competitor_mentions")
    op.drop_table("competitor_mentions")
    op.drop_table("competitors")
