"""Keyset (cursor) pagination: opaque, signed cursors that are verified, never trusted.

A cursor is base64url (no padding) of a 16-byte HMAC-SHA256 tag followed by a small JSON
document: the sort it belongs to and the sort key of the last row served, e.g.
`{"s": "-sent_at", "k": ["2025-03-01T09:30:00+00:00", 1234]}`. The tag covers the listing (the
route's resource, such as `messages`) and the document, under a key derived from the server's
secret (`configure_cursor_key`), so a forged or altered cursor, or one from another listing, is
refused before anything in it is read. The next page is the rows strictly after that key in the
sort order, found through an index seek, so page 10,000 costs what page 1 costs (no OFFSET). A
cursor that fails any check raises CursorError, answered 400 `invalid_cursor`.

Statements take the cursor and the page size as bound parameters (`cursor_0`, `cursor_1`, ...,
`page_limit`), so one statement per query shape is built once and reused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
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
# Bytes of HMAC-SHA256 kept in a cursor: 128 bits cannot be guessed, and cursors stay short.
TAG_BYTES = 16

KeyKind = Literal["int", "str", "datetime", "date"]
# Any SELECT, whatever its columns (SQLAlchemy types selects by their column tuple).
AnySelect = Select[Any]


class CursorError(ValueError):
    """The cursor is forged, altered, malformed or not of this listing; the API answers 400 invalid_cursor."""


# Until `configure_cursor_key` runs, a per-process random key: cursors are still signed, they just
# do not survive a restart. A module-level key rather than an argument, because every query
# function would otherwise have to carry it from the app's state to `page_params` and `page_of`.
_cursor_key = secrets.token_bytes(32)


def derive_cursor_key(secret: bytes) -> bytes:
    """The cursor-signing key derived from the server's secret (never the secret itself, so a
    cursor tag and a token signature are never made with the same key)."""
    return hmac.new(secret, b"headway page cursor v1", hashlib.sha256).digest()


def configure_cursor_key(key: bytes) -> None:
    """Sign and verify cursors with `key` (`create_app` sets it from the JWT secret)."""
    global _cursor_key
    _cursor_key = key


def _tag(listing: str, payload: bytes) -> bytes:
    message = listing.encode() + b"\x00" + payload
    return hmac.new(_cursor_key, message, hashlib.sha256).digest()[:TAG_BYTES]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort order of a listing: its public name, the key columns (id last) and their types."""

    name: str
    columns: tuple[Any, ...]  # table columns or column expressions
    kinds: tuple[KeyKind, ...]
    descending: bool
    listing: str  # the resource listed (`messages`); a cursor only continues its own listing

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
    payload = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(_tag(sort.listing, payload) + payload).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: SortKey) -> tuple[Any, ...]:
    """The sort key inside `cursor`; raises CursorError unless it is a cursor of this `sort`."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise CursorError("cursor is not one this API issued") from None
    tag, payload = raw[:TAG_BYTES], raw[TAG_BYTES:]
    # Verified before the JSON is even parsed, in constant time: nothing unsigned is read.
    if len(tag) != TAG_BYTES or not hmac.compare_digest(tag, _tag(sort.listing, payload)):
        raise CursorError(f"cursor was not issued for {sort.listing} (forged, altered or from another list)")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
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
