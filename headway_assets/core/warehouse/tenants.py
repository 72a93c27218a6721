"""Organisations and their source connections: idempotent set-up used by the demo and the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from headway_assets.core.kinds import SourceKind
from headway_assets.core.warehouse.schema import ConnectionKind, Organization, SourceConnection


def upsert_organization(conn: Connection, *, slug: str, name: str) -> int:
    """Create the organisation `slug` (with no settings of its own), or update its name; returns its id.

    Its settings are changed through `org_settings.change_org_settings` only (audited), which keeps
    the ones not given, so re-running `headway orgs create` or the demo seed never resets them."""
    existing = conn.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one_or_none()
    if existing is not None:
        conn.execute(update(Organization).where(Organization.id == existing).values(name=name))
        return int(existing)
    result = conn.execute(
        insert(Organization).values(slug=slug, is_active=True, name=name, settings={}).returning(Organization.id)
    )
    return int(result.scalar_one())


def upsert_connection(
    conn: Connection,
    *,
    org_id: int,
    source: SourceKind,
    name: str,
    kind: ConnectionKind,
    config: dict[str, Any],
    is_active: bool = True,
) -> int:
    """Create or update the connection (`org_id`, `source`, `name`); returns its id."""
    existing = conn.execute(
        select(SourceConnection.id).where(
            SourceConnection.org_id == org_id,
            SourceConnection.source == source,
            SourceConnection.name == name,
        )
    ).scalar_one_or_none()
    values: dict[str, Any] = {"kind": kind.value, "config": config, "is_active": is_active}
    if existing is not None:
        conn.execute(update(SourceConnection).where(SourceConnection.id == existing).values(**values))
        return int(existing)
    result = conn.execute(
        insert(SourceConnection)
        .values(org_id=org_id, source=source, name=name, **values)
        .returning(SourceConnection.id)
    )
    return int(result.scalar_one())


def store_credentials(conn: Connection, *, connection_id: int, values: dict[str, Any]) -> None:
    """Encrypt and store a connection's credentials (after an OAuth install or a token refresh)."""
    from headway_assets.core.credentials import encrypt_credentials

    conn.execute(
        update(SourceConnection)
        .where(SourceConnection.id == connection_id)
        .values(credentials_encrypted=encrypt_credentials(values))
    )
