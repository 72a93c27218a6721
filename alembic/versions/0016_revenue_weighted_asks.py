"""revenue-weighted asks: the resolved customers of each feature request, their ARR and segments

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:40:00.000000

`feature_request_customers` holds each request's distinct resolved customers (from its mentions'
messages' `message_authors`), and `feature_requests` gains `account_count`, `arr_cents` and
`segments` with indexes for the read API's revenue sorts. Existing catalogues are filled here,
in SQL, from the links and authors already stored.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0016"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("feature_requests", sa.Column("account_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("feature_requests", sa.Column("arr_cents", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("feature_requests", sa.Column("segments", JSON_DOCUMENT, server_default="{}", nullable=False))
    op.create_index("ix_feature_requests_org_arr", "feature_requests", ["org_id", "arr_cents", "id"], unique=False)
    op.create_index(
        "ix_feature_requests_org_accounts", "feature_requests", ["org_id", "account_count", "id"], unique=False
    )
    # No foreign key on customer_id: see FeatureRequestCustomer in schema.py.
    op.create_table(
        "feature_request_customers",
        sa.Column("feature_request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_request_id"],
            ["feature_requests.id"],
            name=op.f("fk_feature_request_customers_feature_request_id_feature_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feature_request_id", "customer_id", name=op.f("pk_feature_request_customers")),
    )
    op.create_index(
        "ix_feature_request_customers_org_customer",
        "feature_request_customers",
        ["org_id", "customer_id"],
        unique=False,
    )
    _fill()


def _fill() -> None:
    """The customers of the requests already in the warehouse, and their aggregates."""
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO feature_request_customers (feature_request_id, customer_id, org_id, mentions) "
            "SELECT l.feature_request_id, a.customer_id, l.org_id, COUNT(*) "
            "FROM feature_request_mentions l "
            "JOIN feature_mentions m ON m.id = l.mention_id "
            "JOIN message_authors a ON a.message_id = m.message_id "
            "JOIN customers c ON c.id = a.customer_id AND c.org_id = l.org_id "
            "GROUP BY l.feature_request_id, a.customer_id, l.org_id"
        )
    )
    totals: dict[int, list[Any]] = defaultdict(lambda: [0, 0, set()])
    for request_id, arr, segment in bind.execute(
        sa.text(
            "SELECT f.feature_request_id, c.arr, c.segment FROM feature_request_customers f "
            "JOIN customers c ON c.id = f.customer_id"
        )
    ):
        total = totals[request_id]
        total[0] += 1
        total[1] += round(float(arr) * 100) if arr is not None else 0
        if segment:
            total[2].add(segment)
    update = sa.text(
        "UPDATE feature_requests SET account_count = :n, arr_cents = :cents, segments = :segments WHERE id = :id"
    ).bindparams(sa.bindparam("segments", type_=JSON_DOCUMENT))
    rows = [
        {"id": request_id, "n": n, "cents": cents, "segments": {"names": sorted(names)}}
        for request_id, (n, cents, names) in totals.items()
    ]
    if rows:
        bind.execute(update, rows)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_feature_request_customers_org_customer", table_name="feature_request_customers")
    op.drop_table("feature_request_customers")
    op.drop_index("ix_feature_requests_org_accounts", table_name="feature_requests")
    op.drop_index("ix_feature_requests_org_arr", table_name="feature_requests")
    op.drop_column("feature_requests", "segments")
    op.drop_column("feature_requests", "arr_cents")
    op.drop_column("feature_requests", "account_count")
