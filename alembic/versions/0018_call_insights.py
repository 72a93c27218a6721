"""call intelligence: per-call risks with quoted reasons and next steps, and customer health per day

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-07 02:50:00.000000

`call_insights` holds, per Gong or Fathom call, deal risk, churn risk and expansion potential
(low/medium/high) with reasons quoting the call, the next steps agreed on it, and the model and
prompt version that made them; it cascades away with its message. `customer_health` is each
customer's daily health score (0-100) derived from its calls' risks and its messages' sentiment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "call_insights",
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("deal_risk", sa.String(8), nullable=False),
        sa.Column("churn_risk", sa.String(8), nullable=False),
        sa.Column("expansion_potential", sa.String(8), nullable=False),
        sa.Column("reasons", JSON_DOCUMENT, nullable=False),
        sa.Column("next_steps", JSON_DOCUMENT, nullable=False),
        sa.Column("rejected_quotes", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("prompt_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_call_insights_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_call_insights_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_call_insights")),
    )
    op.create_index("ix_call_insights_org_sent_at", "call_insights", ["org_id", "sent_at", "message_id"])
    op.create_index("ix_call_insights_org_churn", "call_insights", ["org_id", "churn_risk", "sent_at"])

    op.create_table(
        "customer_health",
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("customer_id", BIGINT_KEY, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("deal_risk", sa.String(8), nullable=True),
        sa.Column("churn_risk", sa.String(8), nullable=True),
        sa.Column("expansion_potential", sa.String(8), nullable=True),
        sa.Column("messages_positive", sa.Integer(), nullable=False),
        sa.Column("messages_neutral", sa.Integer(), nullable=False),
        sa.Column("messages_negative", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_health_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customer_health_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "customer_id", "day", name=op.f("pk_customer_health")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("customer_health")
    op.drop_index("ix_call_insights_org_churn", table_name="call_insights")
    op.drop_index("ix_call_insights_org_sent_at", table_name="call_insights")
    op.drop_table("call_insights")
