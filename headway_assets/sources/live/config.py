"""What every live reader shares: reading its connection's config, and the `Retry-After` header."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from headway_assets.core.message import SourceReadError


def config_number(
    config: Mapping[str, Any],
    key: str,
    default: float,
    *,
    connection: str,
    minimum: float = 0.0,
    maximum: float | None = None,
    kind: str = "a number",
) -> float:
    """A numeric setting of a connection's config, or a `SourceReadError` naming the key and the bounds."""
    value = config.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f">= {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
        raise SourceReadError(
            f"connection {connection}: config '{key}' must be {kind} {bounds}, got {value!r}; "
            "fix the connection's config"
        )
    return float(value)


def config_integer(
    config: Mapping[str, Any], key: str, default: int, *, connection: str, minimum: int = 0, maximum: int | None = None
) -> int:
    """A whole-number setting of a connection's config (see `config_number`)."""
    value = config_number(
        config, key, default, connection=connection, minimum=minimum, maximum=maximum, kind="an integer"
    )
    if not value.is_integer():
        raise SourceReadError(f"connection {connection}: config '{key}' must be an integer, got {value!r}")
    return int(value)


def config_domains(config: Mapping[str, Any], *, connection: str) -> tuple[str, ...]:
    """The connection's `internal_domains` (its own staff's email domains)."""
    domains = config.get("internal_domains") or ()
    if (
        isinstance(domains, str)
        or not isinstance(domains, list | tuple)
        or not all(isinstance(d, str) for d in domains)
    ):
        raise SourceReadError(
            f"connection {connection}: config 'internal_domains' must be a list of domains, got {domains!r}; "
            "fix the connection's config"
        )
    return tuple(domains)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A `Retry-After` header in seconds (whole, fractional or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
