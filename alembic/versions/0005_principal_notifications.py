"""notify API processes when users or organisations change

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The API caches callers per process while it LISTENs on this channel (headway_api.core.principal):
# any committed change to users or organisations, by any process, clears every such cache.
CHANNEL = "headway_principals"
TABLES = ("users", "organizations")


def upgrade() -> None:
    """Apply this revision (PostgreSQL only: SQLite has no NOTIFY and the API does not cache there)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION headway_notify_principals() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        # Statement-level: one notification per statement (PostgreSQL also folds identical
        # notifications of one transaction into one), whatever the number of rows.
        op.execute(
            f"CREATE TRIGGER {table}_notify_principals AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION headway_notify_principals()"
        )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_principals ON {table}")
    op.execute("DROP FUNCTION IF EXISTS headway_notify_principals()")
