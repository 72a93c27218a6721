"""catalogue corrections: triage state on requests, pinned links, pins and the audit trail

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON elsewhere, as in headway_assets.core.warehouse.schema.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED_INTO_FK = "fk_feature_requests_merged_into_id_feature_requests"


def upgrade() -> None:
    """Apply this revision."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    # A person's triage state on a request (see schema.FeatureRequest); constant server
    # defaults, so existing rows get them and SQLite adds the columns in place.
    op.add_column("feature_requests", sa.Column("status", sa.String(length=16), server_default="new", nullable=False))
    op.add_column("feature_requests", sa.Column("owner", sa.String(length=320), nullable=True))
    op.add_column("feature_requests", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column(
        "feature_requests", sa.Column("title_locked", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "feature_requests", sa.Column("taxonomy_locked", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "feature_requests",
        sa.Column("origin", sa.String(length=16), server_default="pipeline", nullable=False),
    )
    if sqlite:
        # SQLite adds a foreign key only by copying the table (batch mode), and dropping the old
        # copy with foreign keys on would cascade away every link: keep them aside and put them back.
        op.execute("CREATE TEMPORARY TABLE keep_request_links AS SELECT * FROM feature_request_mentions")
    with op.batch_alter_table("feature_requests") as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", BIGINT_KEY, nullable=True))
        batch_op.create_foreign_key(MERGED_INTO_FK, "feature_requests", ["merged_into_id"], ["id"], ondelete="SET NULL")
    if sqlite:
        op.execute("INSERT INTO feature_request_mentions SELECT * FROM keep_request_links")
        op.execute("DROP TABLE keep_request_links")
    op.add_column(
        "feature_request_mentions",
        sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False),
    )

    op.create_table(
        "catalogue_pins",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("message_id", BIGINT_KEY, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("evidence_quote", sa.Text(), nullable=False),
        sa.Column("evidence_start", sa.Integer(), nullable=False),
        sa.Column("feature_request_id", BIGINT_KEY, nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_request_id"],
            ["feature_requests.id"],
            name=op.f("fk_catalogue_pins_feature_request_id_feature_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_catalogue_pins_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_catalogue_pins_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_pins")),
        sa.UniqueConstraint(
            "message_id", "evidence_start", "title", name=op.f("uq_catalogue_pins_message_id_evidence_start_title")
        ),
    )
    op.create_index(
        op.f("ix_catalogue_pins_feature_request_id"), "catalogue_pins", ["feature_request_id"], unique=False
    )
    op.create_index("ix_catalogue_pins_org_request", "catalogue_pins", ["org_id", "feature_request_id"], unique=False)

    op.create_table(
        "catalogue_audit",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("feature_request_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", JSON_DOCUMENT, nullable=True),
        sa.Column("after", JSON_DOCUMENT, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_by_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_catalogue_audit_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_audit")),
    )
    op.create_index(
        "ix_catalogue_audit_org_request_id", "catalogue_audit", ["org_id", "feature_request_id", "id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_catalogue_audit_org_request_id", table_name="catalogue_audit")
    op.drop_table("catalogue_audit")
    op.drop_index("ix_catalogue_pins_org_request", table_name="catalogue_pins")
    op.drop_index(op.f("ix_catalogue_pins_feature_request_id"), table_name="catalogue_pins")
    op.drop_table("catalogue_pins")
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("feature_request_mentions") as batch_op:
        batch_op.drop_column("pinned")
    if sqlite:
        # Dropping the foreign-key column copies the table on SQLite, and dropping the old copy
        # with foreign keys on would cascade away every link: keep them aside and put them back.
        op.execute("CREATE TEMPORARY TABLE keep_request_links AS SELECT * FROM feature_request_mentions")
    with op.batch_alter_table("feature_requests") as batch_op:
        if not sqlite:
            batch_op.drop_constraint(MERGED_INTO_FK, type_="foreignkey")
        batch_op.drop_column("merged_into_id")
        for column in ("origin", "taxonomy_locked", "title_locked", "version", "owner", "status"):
            batch_op.drop_column(column)
    if sqlite:
        op.execute("INSERT INTO feature_request_mentions SELECT * FROM keep_request_links")
        op.execute("DROP TABLE keep_request_links")
