"""Sync requests (on demand), sync history and source connections."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from headway_api.db import Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.schemas.sync import ConnectionListParams, SyncRequestListParams, SyncRunListParams
from headway_assets.core.warehouse.schema import SkippedItem, SourceConnection, SyncRequest, SyncRun

SR = SyncRequest.__table__.c
RUN = SyncRun.__table__.c
SKIP = SkippedItem.__table__.c
SC = SourceConnection.__table__.c
SYNC_REQUEST_SORT = SortKey("-id", (SR.id,), ("int",), descending=True, listing="sync-requests")
SYNC_RUN_SORT = SortKey(
    "-started_at", (RUN.started_at, RUN.id), ("datetime", "int"), descending=True, listing="sync-runs"
)
CONNECTION_SORT = SortKey("id", (SC.id,), ("int",), descending=False, listing="connections")
# Skipped items shown on one sync run; `items_skipped` on the run is the full count.
MAX_SKIPPED_ITEMS = 100

_REQUEST_COLUMNS = (
    SR.id,
    SR.source,
    SR.first_day,
    SR.last_day,
    SR.status,
    SR.requested_by,
    SR.dagster_run_id,
    SR.error,
    SR.created_at,
    SR.launched_at,
    SR.finished_at,
)
_RUN_COLUMNS = (
    RUN.id,
    RUN.source,
    RUN.connection_id,
    RUN.window_start,
    RUN.window_end,
    RUN.status,
    RUN.dagster_run_id,
    RUN.started_at,
    RUN.finished_at,
    RUN.messages_read,
    RUN.messages_written,
    RUN.messages_removed,
    RUN.messages_held,
    RUN.items_skipped,
    RUN.error,
)
_CONNECTION_COLUMNS = (
    SC.id,
    SC.source,
    SC.kind,
    SC.name,
    SC.is_active,
    SC.created_at,
    SC.last_synced_at,
    SC.last_error,
)


class _ListParams(Protocol):
    cursor: str | None
    limit: int

    def filters(self) -> dict[str, Any]: ...


async def _filtered_page(
    db: Reader,
    org_id: int,
    params: _ListParams,
    statement_for: Callable[[tuple[str, ...], bool], AnySelect],
    sort: SortKey,
) -> dict[str, Any]:
    """One page of the org's rows matching `params`' filters, from the statement of that filter shape."""
    values = {name: getattr(value, "value", value) for name, value in params.filters().items()}  # enums by value
    statement = statement_for(tuple(sorted(values)), params.cursor is not None)
    page_values = page_params(sort, params.cursor, params.limit)
    rows = await db.dicts(statement, {"org_id": org_id, **values, **page_values})
    page, next_cursor = page_of(rows, sort, params.limit)
    return page_document(page, next_cursor)


@lru_cache(maxsize=64)
def _request_list(shape: tuple[str, ...], with_cursor: bool) -> AnySelect:
    query = select(*_REQUEST_COLUMNS).where(SR.org_id == bindparam("org_id"))
    for name in shape:
        query = query.where(getattr(SR, name) == bindparam(name))
    return paginate(query, SYNC_REQUEST_SORT, with_cursor=with_cursor)


async def list_sync_requests(db: Reader, org_id: int, params: SyncRequestListParams) -> dict[str, Any]:
    """One page of the organisation's sync requests, newest first."""
    return await _filtered_page(db, org_id, params, _request_list, SYNC_REQUEST_SORT)


_REQUEST_BY_ID = select(*_REQUEST_COLUMNS).where(SR.id == bindparam("request_id"), SR.org_id == bindparam("org_id"))


async def get_sync_request(db: Reader, org_id: int, request_id: int) -> dict[str, Any] | None:
    """One sync request of the organisation; None if not the org's."""
    return await db.dict_or_none(_REQUEST_BY_ID, {"request_id": request_id, "org_id": org_id})


_RUN_CONDITIONS: dict[str, Any] = {
    "source": lambda: RUN.source == bindparam("source"),
    "status": lambda: RUN.status == bindparam("status"),
    "connection_id": lambda: RUN.connection_id == bindparam("connection_id"),
    "since": lambda: RUN.started_at >= bindparam("since"),
    "until": lambda: RUN.started_at < bindparam("until"),
}


@lru_cache(maxsize=128)
def _run_list(shape: tuple[str, ...], with_cursor: bool) -> AnySelect:
    query = select(*_RUN_COLUMNS).where(RUN.org_id == bindparam("org_id"))
    for name in shape:
        query = query.where(_RUN_CONDITIONS[name]())
    return paginate(query, SYNC_RUN_SORT, with_cursor=with_cursor)


async def list_sync_runs(db: Reader, org_id: int, params: SyncRunListParams) -> dict[str, Any]:
    """One page of the organisation's sync history, newest first."""
    return await _filtered_page(db, org_id, params, _run_list, SYNC_RUN_SORT)


_RUN_BY_ID = select(*_RUN_COLUMNS).where(RUN.id == bindparam("run_id"), RUN.org_id == bindparam("org_id"))
_SKIPPED = (
    select(SKIP.id, SKIP.location, SKIP.reason, SKIP.created_at)
    .where(SKIP.sync_run_id == bindparam("run_id"), SKIP.org_id == bindparam("org_id"))
    .order_by(SKIP.id)
    .limit(MAX_SKIPPED_ITEMS)
)


async def get_sync_run(db: Reader, org_id: int, run_id: int) -> dict[str, Any] | None:
    """One sync run of the organisation with its first skipped items; None if not the org's."""
    values = {"run_id": run_id, "org_id": org_id}
    run = await db.dict_or_none(_RUN_BY_ID, values)
    if run is None:
        return None
    run["skipped_items"] = await db.dicts(_SKIPPED, values)
    return run


@lru_cache(maxsize=16)
def _connection_list(shape: tuple[str, ...], with_cursor: bool) -> AnySelect:
    query = select(*_CONNECTION_COLUMNS).where(SC.org_id == bindparam("org_id"))
    for name in shape:
        query = query.where(getattr(SC, name) == bindparam(name))
    return paginate(query, CONNECTION_SORT, with_cursor=with_cursor)


async def list_connections(db: Reader, org_id: int, params: ConnectionListParams) -> dict[str, Any]:
    """One page of the organisation's source connections (never their settings or credentials)."""
    return await _filtered_page(db, org_id, params, _connection_list, CONNECTION_SORT)
