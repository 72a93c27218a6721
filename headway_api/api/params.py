"""Path parameters, and the query parameter types of `headway_api.schemas.common`, for the routes.

Anything outside the bounds is a 422 before a query runs: negative or huge limits, ids past
64 bits, control characters (PostgreSQL refuses NUL bytes in text), over-long strings,
timestamps that cannot be expressed in UTC, unknown sort keys, unknown parameters.
"""

from __future__ import annotations

from typing import Any

from fastapi import Path

from headway_api.schemas.common import MAX_ID, ListParams, UtcDatetime, check_range, text_filter


def id_path(description: str) -> Any:
    """A positive 64-bit id in the path."""
    return Path(ge=1, le=MAX_ID, description=description)


__all__ = ["MAX_ID", "ListParams", "UtcDatetime", "check_range", "id_path", "text_filter"]
