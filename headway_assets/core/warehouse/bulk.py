"""Bulk writes in bounded statements: one place for the batch size and the batching loop.

A statement with thousands of rows or ids runs into the drivers' bind-parameter limits (SQLite
allows 32,766, psycopg 65,535), so large writes go out in batches inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, insert

from headway_assets.core.warehouse.schema import Base

BATCH_SIZE = 500  # rows (or ids) per statement: ~10,000 bound values at ~20 columns a row
T = TypeVar("T")


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_rows(conn: Connection, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` into `model`'s table, a batch per statement."""
    for batch in batches(rows):
        conn.execute(insert(model), list(batch))


def delete_for_messages(conn: Connection, model: type[Base], message_ids: Sequence[int]) -> None:
    """Delete the rows of `model` that belong to these messages (its `message_id` column)."""
    column = model.__table__.c.message_id
    for batch in batches(message_ids):
        conn.execute(delete(model).where(column.in_(batch)))
