"""customers and contacts: accounts, their domains and Slack teams, people, and who wrote each message

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-06 23:10:00.000000

`customers` are an organisation's accounts (CRM fields, `auto_created` when the resolution made
one for an unknown domain or Slack Connect team); `customer_domains` and `customer_slack_teams`
give each domain and team at most one customer; `contacts` are the people outside the
organisation; `message_authors` links every message to its contact and customer (or says why
not), beside `messages` so that the resolution never rewrites message rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# BIGINT on PostgreSQL, INTEGER on SQLite (its rowid alias), as in headway_assets.core.warehouse.schema.
BIGINT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=16, scale=2, asdecimal=False)

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def _customer_fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"], ["customers.id"], name=op.f(f"fk_{table}_customer_id_customers"), ondelete=ondelete
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "customers",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("arr", MONEY, nullable=True),
        sa.Column("mrr", MONEY, nullable=True),
        sa.Column("plan", sa.String(100), nullable=True),
        sa.Column("segment", sa.String(100), nullable=True),
        sa.Column("deal_stage", sa.String(32), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("owner", sa.String(320), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("auto_created", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("auto_key", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _org_fk("customers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("org_id", "auto_key", name=op.f("uq_customers_org_id_auto_key")),
        sa.UniqueConstraint("org_id", "external_id", name=op.f("uq_customers_org_id_external_id")),
    )
    op.create_index("ix_customers_org_name", "customers", ["org_id", "name"], unique=False)

    op.create_table(
        "customer_domains",
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("customer_id", BIGINT_KEY, nullable=False),
        _customer_fk("customer_domains"),
        _org_fk("customer_domains"),
        sa.PrimaryKeyConstraint("org_id", "domain", name=op.f("pk_customer_domains")),
    )
    op.create_index(op.f("ix_customer_domains_customer_id"), "customer_domains", ["customer_id"], unique=False)

    op.create_table(
        "customer_slack_teams",
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("customer_id", BIGINT_KEY, nullable=False),
        _customer_fk("customer_slack_teams"),
        _org_fk("customer_slack_teams"),
        sa.PrimaryKeyConstraint("org_id", "team_id", name=op.f("pk_customer_slack_teams")),
    )
    op.create_index(op.f("ix_customer_slack_teams_customer_id"), "customer_slack_teams", ["customer_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", BIGINT_KEY, autoincrement=True, nullable=False),
        sa.Column("org_id", BIGINT_KEY, nullable=False),
        sa.Column("key", sa.String(340), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("customer_id", BIGINT_KEY, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _customer_fk("contacts", ondelete="SET NULL"),
        _org_fk("contacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_contacts_org_id_key")),
    )
    op.create_index("ix_contacts_org_customer", "contacts", ["org_id", "customer_id"], unique=False)

    # No foreign keys: see MessageAuthor in schema.py (a million rows a run, checked row by row).
    op.create_table(
        "message_authors",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("method", sa.String(24), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_authors")),
    )
    op.create_index("ix_message_authors_org_customer", "message_authors", ["org_id", "customer_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_message_authors_org_customer", table_name="message_authors")
    op.drop_table("message_authors")
    op.drop_index("ix_contacts_org_customer", table_name="contacts")
    op.drop_table("contacts")
    op.drop_index(op.f("ix_customer_slack_teams_customer_id"), table_name="customer_slack_teams")
    op.drop_table("customer_slack_teams")
    op.drop_index(op.f("ix_customer_domains_customer_id"), table_name="customer_domains")
    op.drop_table("customer_domains")
    op.drop_index("ix_customers_org_name", table_name="customers")
    op.drop_table("customers")
