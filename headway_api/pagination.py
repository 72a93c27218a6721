"""Keyset (cursor) pagination: opaque cursors that are validated, never trusted.

A cursor is base64url (no padding) of a small JSON document: the sort it belongs to and the sort
key of the last row served, e.g. `{"s": "-sent_at", "k": ["2025-03-01T09:30:00+00:00", 1234]}`.
The next page is the rows strictly after that key in the sort order, found through an index
seek, so page 10,000 costs what page 1 costs (no OFFSET). A cursor that does not decode, belongs
to another sort, or carries values of the wrong type is refused with 422.

Statements take the cursor and the page size as bound parameters (`cursor_0`, `cursor_1`, ...,
`page_limit`), so one statement per query shape is built once and reused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Integer, Select, bindparam, tuple_
from sqlalchemy.sql.elements import ColumnElement

# Longest cursor accepted: a few sort values fit in far less; anything longer is not ours.
MAX_CURSOR_LENGTH = 512
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
LIMIT_PARAM = "page_limit"

KeyKind = Literal["int", "str", "datetime", "date"]
# Any SELECT, whatever its columns (SQLAlchemy types selects by their column tuple).
AnySelect = Select[Any]


class CursorError(ValueError):
    """The cursor is malformed or does not belong to this listing; the API answers 422."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort order of a listing: its public name, the key columns (id last) and their types."""

    name: str
    columns: tuple[Any, ...]  # table columns or column expressions
    kinds: tuple[KeyKind, ...]
    descending: bool

    def order_by(self) -> list[ColumnElement[Any]]:
        """ORDER BY clauses for this sort (every column in the same direction)."""
        return [column.desc() if self.descending else column.asc() for column in self.columns]

    def after(self) -> ColumnElement[bool]:
        """The rows strictly after the bound key `cursor_0, cursor_1, ...`, as one row-value comparison.

        A row comparison (a, id) < (x, y) is what lets PostgreSQL and SQLite seek the composite
        index instead of filtering, which keeps deep pages as fast as the first.
        """
        key = tuple_(*self.columns)
        # Typed binds, so a UTC timestamp goes through the column's type (naive UTC text on SQLite).
        bound = tuple_(*(bindparam(f"cursor_{i}", type_=column.type) for i, column in enumerate(self.columns)))
        return key < bound if self.descending else key > bound


def _encode_value(value: Any, kind: KeyKind) -> Any:
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise TypeError(f"cursor key expects a datetime, got {type(value).__name__}")
        return value.astimezone(UTC).isoformat()
    if kind == "date":
        return value.isoformat()
    return value


def _decode_value(raw: Any, kind: KeyKind) -> Any:
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int) or not -(2**63) <= raw < 2**63:
            raise CursorError("cursor holds a value of the wrong type")
        return raw
    if not isinstance(raw, str) or len(raw) > 300:
        raise CursorError("cursor holds a value of the wrong type")
    if kind == "str":
        if "\x00" in raw:
            raise CursorError("cursor holds a value of the wrong type")
        return raw
    try:
        if kind == "date":
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise CursorError("cursor holds a malformed timestamp") from None
    if moment.tzinfo is None:
        raise CursorError("cursor holds a timestamp without a time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise CursorError("cursor holds a timestamp out of range") from None


def encode_cursor(sort: SortKey, values: Sequence[Any]) -> str:
    """The opaque cursor that continues `sort` after the row whose key is `values`."""
    document = {"s": sort.name, "k": [_encode_value(v, k) for v, k in zip(values, sort.kinds, strict=True)]}
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: SortKey) -> tuple[Any, ...]:
    """The sort key inside `cursor`; raises CursorError unless it is a cursor of this `sort`."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not one this API issued") from None
    if not isinstance(document, dict) or set(document) != {"s", "k"}:
        raise CursorError("cursor is not one this API issued")
    if document["s"] != sort.name:
        raise CursorError(f"cursor belongs to another sort order; it cannot continue sort={sort.name}")
    values = document["k"]
    if not isinstance(values, list) or len(values) != len(sort.kinds):
        raise CursorError("cursor is not one this API issued")
    return tuple(_decode_value(raw_value, kind) for raw_value, kind in zip(values, sort.kinds, strict=True))


def paginate(query: AnySelect, sort: SortKey, *, with_cursor: bool) -> AnySelect:
    """`query` ordered by `sort`, after the bound cursor key when `with_cursor`, `page_limit` rows."""
    if with_cursor:
        query = query.where(sort.after())
    # The page size is written into the SQL (literal_execute), not sent as a parameter: with an
    # unknown LIMIT, PostgreSQL's cached generic plan assumes a large result and may pick a
    # parallel scan that costs milliseconds to start for twenty rows.
    return query.order_by(*sort.order_by()).limit(bindparam(LIMIT_PARAM, type_=Integer(), literal_execute=True))


def page_params(sort: SortKey, cursor: str | None, limit: int) -> dict[str, Any]:
    """The bound values of a page: the decoded cursor key, and one row more than `limit`."""
    params: dict[str, Any] = {LIMIT_PARAM: limit + 1}  # the extra row tells whether a next page exists
    if cursor:
        for index, value in enumerate(decode_cursor(cursor, sort)):
            params[f"cursor_{index}"] = value
    return params


def page_document(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """A page as the API serves it, in the field order of `PageBase` subclasses (the cursor first)."""
    return {"next_cursor": next_cursor, "items": items}


def page_of(
    rows: Sequence[Any], sort: SortKey, limit: int, key_of: Callable[[Any], Sequence[Any]] | None = None
) -> tuple[list[Any], str | None]:
    """Cut the `limit + 1` fetched rows to a page and the next page's cursor (None on the last page).

    `key_of` reads the sort key of a row; by default rows are dicts keyed by column, and the key is
    the values of the sort's columns.
    """
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    last = page[-1]
    key = key_of(last) if key_of is not None else tuple(last[column.key] for column in sort.columns)
    return page, encode_cursor(sort, key)
