"""ai pipeline, taxonomy, api users and sync requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:56:59.457724
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere, as in headway_assets.core.warehouse.schema.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "llm_cache",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("response", JSON_DOCUMENT, nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_cache")),
        sa.UniqueConstraint(
            "task",
            "prompt_version",
            "model",
            "content_hash",
            name=op.f("uq_llm_cache_task_prompt_version_model_content_hash"),
        ),
    )
    op.create_table(
        "llm_usage",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("asset", sa.String(length=100), nullable=False),
        sa.Column("partition", sa.String(length=64), nullable=True),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("cache_hits", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_read_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_usage")),
    )
    with op.batch_alter_table("llm_usage", schema=None) as batch_op:
        batch_op.create_index("ix_llm_usage_created", ["created_at"], unique=False)

    op.create_table(
        "feature_requests",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=True),
        sa.Column("sub_theme", sa.String(length=200), nullable=True),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("customer_count", sa.Integer(), nullable=False),
        sa.Column("customers", JSON_DOCUMENT, nullable=False),
        sa.Column("sources", JSON_DOCUMENT, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mentions_last_7d", sa.Integer(), nullable=False),
        sa.Column("mentions_prev_7d", sa.Integer(), nullable=False),
        sa.Column("trend", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_feature_requests_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_requests")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_feature_requests_org_id_key")),
    )
    with op.batch_alter_table("feature_requests", schema=None) as batch_op:
        batch_op.create_index("ix_feature_requests_org_last_seen", ["org_id", "last_seen", "id"], unique=False)
        batch_op.create_index("ix_feature_requests_org_mentions", ["org_id", "mention_count", "id"], unique=False)

    op.create_table(
        "period_insights",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("content", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_period_insights_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_insights")),
        sa.UniqueConstraint(
            "org_id", "period", "period_start", name=op.f("uq_period_insights_org_id_period_period_start")
        ),
    )
    with op.batch_alter_table("period_insights", schema=None) as batch_op:
        batch_op.create_index("ix_period_insights_org_start", ["org_id", "period_start"], unique=False)

    op.create_table(
        "themes",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("parent_id", BIGINT_KEY, nullable=True),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("keywords", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_themes_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["themes.id"], name=op.f("fk_themes_parent_id_themes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themes")),
        sa.UniqueConstraint("org_id", "path", name=op.f("uq_themes_org_id_path")),
    )
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_themes_org_id"), ["org_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("hashed_password", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_users_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "sync_requests",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", BIGINT_KEY, nullable=True),
        sa.Column("dagster_run_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_sync_requests_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_sync_requests_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_requests")),
    )
    with op.batch_alter_table("sync_requests", schema=None) as batch_op:
        batch_op.create_index("ix_sync_requests_org_created", ["org_id", "created_at"], unique=False)
        batch_op.create_index("ix_sync_requests_status", ["status", "id"], unique=False)

    op.create_table(
        "message_extractions",
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("taxonomy_fingerprint", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("rejected_quotes", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_extractions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_message_extractions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_extractions")),
    )
    with op.batch_alter_table("message_extractions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_extractions_org_id"), ["org_id"], unique=False)

    op.create_table(
        "feature_mentions",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("problem_statement", sa.Text(), nullable=True),
        sa.Column("desired_outcome", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=True),
        sa.Column("sub_theme", sa.String(length=200), nullable=True),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("evidence_quote", sa.Text(), nullable=False),
        sa.Column("evidence_start", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_feature_mentions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_feature_mentions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_mentions")),
        sa.UniqueConstraint("message_id", "ordinal", name=op.f("uq_feature_mentions_message_id_ordinal")),
    )
    with op.batch_alter_table("feature_mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feature_mentions_message_id"), ["message_id"], unique=False)
        batch_op.create_index("ix_feature_mentions_org_sent_at", ["org_id", "sent_at"], unique=False)

    op.create_table(
        "message_insights",
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.String(length=16), nullable=False),
        sa.Column("key_topics", JSON_DOCUMENT, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_insights_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_message_insights_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_insights")),
    )
    with op.batch_alter_table("message_insights", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_insights_org_id"), ["org_id"], unique=False)

    op.create_table(
        "message_labels",
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("is_feedback", sa.Boolean(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("relevance", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("best_chunk", sa.Integer(), nullable=True),
        sa.Column("chunks", JSON_DOCUMENT, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_labels_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_message_labels_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_labels")),
    )
    with op.batch_alter_table("message_labels", schema=None) as batch_op:
        batch_op.create_index("ix_message_labels_org_category", ["org_id", "category"], unique=False)
        batch_op.create_index("ix_message_labels_org_relevance", ["org_id", "relevance"], unique=False)

    op.create_table(
        "feature_request_mentions",
        sa.Column("feature_request_id", BIGINT_KEY, nullable=False),
        sa.Column("mention_id", BIGINT_KEY, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("match_method", sa.String(length=24), nullable=False),
        sa.Column("match_score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_request_id"],
            ["feature_requests.id"],
            name=op.f("fk_feature_request_mentions_feature_request_id_feature_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["feature_mentions.id"],
            name=op.f("fk_feature_request_mentions_mention_id_feature_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_feature_request_mentions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feature_request_id", "mention_id", name=op.f("pk_feature_request_mentions")),
        sa.UniqueConstraint("mention_id", name=op.f("uq_feature_request_mentions_mention_id")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("feature_request_mentions")
    with op.batch_alter_table("message_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_message_labels_org_relevance")
        batch_op.drop_index("ix_message_labels_org_category")

    op.drop_table("message_labels")
    with op.batch_alter_table("message_insights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_insights_org_id"))

    op.drop_table("message_insights")
    with op.batch_alter_table("feature_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_mentions_org_sent_at")
        batch_op.drop_index(batch_op.f("ix_feature_mentions_message_id"))

    op.drop_table("feature_mentions")
    with op.batch_alter_table("message_extractions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_extractions_org_id"))

    op.drop_table("message_extractions")
    with op.batch_alter_table("sync_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_requests_status")
        batch_op.drop_index("ix_sync_requests_org_created")

    op.drop_table("sync_requests")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_org_id"))

    op.drop_table("users")
    with op.batch_alter_table("themes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_themes_org_id"))

    op.drop_table("themes")
    with op.batch_alter_table("period_insights", schema=None) as batch_op:
        batch_op.drop_index("ix_period_insights_org_start")

    op.drop_table("period_insights")
    with op.batch_alter_table("feature_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_requests_org_mentions")
        batch_op.drop_index("ix_feature_requests_org_last_seen")

    op.drop_table("feature_requests")
    with op.batch_alter_table("llm_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_created")

    op.drop_table("llm_usage")
    op.drop_table("llm_cache")
