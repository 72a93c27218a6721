"""Notification subscriptions: the list and one (through the reader), the writes (one transaction each on
the write engine, run in the thread pool by the route). The rules are the warehouse's
(`headway_assets.core.warehouse.notifications`); a refused write raises `CorrectionError` before
the commit, so nothing changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.queries.corrections import _transaction, actor_of
from headway_assets.core.warehouse import notifications
from headway_assets.core.warehouse.schema import NotificationSubscription

NS = NotificationSubscription.__table__.c
_LIST = select(NotificationSubscription).where(NS.org_id == bindparam("org_id")).order_by(NS.id)
_ONE = select(NotificationSubscription).where(NS.org_id == bindparam("org_id"), NS.id == bindparam("id"))


async def list_subscriptions(db: Reader, org_id: int) -> dict[str, Any]:
    """Every subscription of the organisation, oldest first, as one page."""
    rows = await db.dicts(_LIST, {"org_id": org_id})
    return {"items": [notifications.subscription_document(row) for row in rows], "next_cursor": None}


async def get_subscription(db: Reader, org_id: int, subscription_id: int) -> dict[str, Any] | None:
    """One subscription of the organisation, or None."""
    row = await db.dict_or_none(_ONE, {"org_id": org_id, "id": subscription_id})
    return None if row is None else notifications.subscription_document(row)


def create_subscription(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Create a subscription in the caller's organisation."""
    with _transaction(db) as conn:
        return notifications.create_subscription(conn, principal.org_id, actor_of(principal), body)


def patch_subscription(
    db: Database, principal: Principal, subscription_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a subscription of the caller's organisation."""
    with _transaction(db) as conn:
        return notifications.update_subscription(conn, principal.org_id, subscription_id, changes)


def delete_subscription(db: Database, principal: Principal, subscription_id: int) -> dict[str, Any]:
    """Delete a subscription of the caller's organisation (and its record of posts); it as it was."""
    with _transaction(db) as conn:
        return notifications.delete_subscription(conn, principal.org_id, subscription_id)
