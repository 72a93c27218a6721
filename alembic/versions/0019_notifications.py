"""notifications: per-theme Slack channel subscriptions and the record of every post

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000

`notification_subscriptions` say which Slack channel of an organisation hears which theme's
signals (new requests, rising requests, high-risk calls, the weekly digest);
`notification_deliveries` records each signal posted (or why not) for a subscription, unique on
(subscription, kind, signal key) so a signal is posted at most once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0019"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "notification_subscriptions",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("theme", sa.String(200), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("new_requests", sa.Boolean(), nullable=False),
        sa.Column("rising_requests", sa.Boolean(), nullable=False),
        sa.Column("high_risk_calls", sa.Boolean(), nullable=False),
        sa.Column("weekly_digest", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notification_subscriptions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_subscriptions")),
    )
    op.create_index("ix_notification_subscriptions_org_channel", "notification_subscriptions", ["org_id", "channel_id"])

    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("subscription_id", BIGINT_KEY, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("signal_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slack_channel", sa.String(32), nullable=True),
        sa.Column("slack_ts", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_notification_deliveries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["notification_subscriptions.id"],
            name=op.f("fk_notification_deliveries_subscription_id_notification_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "subscription_id",
            "kind",
            "signal_key",
            name=op.f("uq_notification_deliveries_subscription_id_kind_signal_key"),
        ),
    )
    op.create_index("ix_notification_deliveries_status_retry", "notification_deliveries", ["status", "retry_at"])
    op.create_index("ix_notification_deliveries_org_created", "notification_deliveries", ["org_id", "created_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_notification_deliveries_org_created", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_status_retry", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index("ix_notification_subscriptions_org_channel", table_name="notification_subscriptions")
    op.drop_table("notification_subscriptions")
