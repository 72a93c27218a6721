"""Reading loosely typed JSON fields of vendor payloads and exports, one way for every reader.

Vendors leave fields out, send `null`, send ids as numbers one day and strings the next; these
helpers turn such a field into the one type the reader wants, or `None`/empty when it is absent
or unusable, so no reader raises on a payload's odd corner.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def text_field(value: Any) -> str | None:
    """A non-blank string, stripped (integers as their digits: some vendors send ids as numbers)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def mapping_field(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def utc_time_field(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (naive times are taken as UTC); None if unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
