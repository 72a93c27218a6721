"""Sync request, sync history and connection models."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from headway_api.schemas.common import MAX_ID, IsoDate, ListParams, PageBase, UtcDatetime, check_range, page_example
from headway_assets.core.warehouse.schema import SyncRequestStatus, SyncStatus
from headway_assets.sources.registry import SourceName

_REQUEST_EXAMPLE: JsonDict = {
    "id": 12,
    "source": "slack",
    "first_day": "2025-03-01",
    "last_day": "2025-03-01",
    "status": "launched",
    "requested_by": 7,
    "dagster_run_id": "4c1e7d0a-9f55-4c61-8b0b-7cf0d2b7e2f1",
    "error": None,
    "created_at": "2025-03-01T12:00:00Z",
    "launched_at": "2025-03-01T12:00:30Z",
    "finished_at": None,
}
_RUN_EXAMPLE: JsonDict = {
    "id": 301,
    "source": "slack",
    "connection_id": 2,
    "window_start": "2025-03-01T00:00:00Z",
    "window_end": "2025-03-02T00:00:00Z",
    "status": "partial",
    "dagster_run_id": "4c1e7d0a-9f55-4c61-8b0b-7cf0d2b7e2f1",
    "started_at": "2025-03-01T12:00:31Z",
    "finished_at": "2025-03-01T12:01:10Z",
    "messages_read": 412,
    "messages_written": 410,
    "messages_removed": 0,
    "messages_held": 0,
    "items_skipped": 2,
    "error": None,
}
_SKIPPED_EXAMPLE: JsonDict = {
    "id": 9,
    "location": "channels/C024BE91L/2025-03-01.json#14",
    "reason": "message has no timestamp",
    "created_at": "2025-03-01T12:01:00Z",
}
_CONNECTION_EXAMPLE: JsonDict = {
    "id": 2,
    "source": "slack",
    "kind": "api",
    "name": "acme-workspace",
    "is_active": True,
    "created_at": "2025-01-02T10:00:00Z",
    "last_synced_at": "2025-03-01T12:01:10Z",
    "last_error": None,
}


class SyncRequestCreate(BaseModel):
    """Ask for a sync of one source; the days default to today (UTC)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source": "slack", "first_day": "2025-03-01", "last_day": "2025-03-01"}]},
    )

    source: SourceName
    first_day: IsoDate | None = Field(default=None, description="First UTC day to sync; default: today.")
    last_day: IsoDate | None = Field(default=None, description="Last UTC day to sync; default: first_day.")


class SyncRequestOut(BaseModel):
    """An on-demand sync request and where it stands: pending -> launched -> succeeded | failed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REQUEST_EXAMPLE]})

    id: int
    source: str
    first_day: date
    last_day: date
    status: str = Field(description="pending | launched | succeeded | failed")
    requested_by: int | None
    dagster_run_id: str | None
    error: str | None
    created_at: datetime
    launched_at: datetime | None
    finished_at: datetime | None


class SyncRequestPage(PageBase):
    """One page of sync requests, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_REQUEST_EXAMPLE)]})

    items: list[SyncRequestOut]


class SyncRunOut(BaseModel):
    """One sync of one connection over one window (the sync history)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RUN_EXAMPLE]})

    id: int
    source: str
    connection_id: int | None
    window_start: datetime
    window_end: datetime
    status: str = Field(description="running | success | partial | incomplete | failed")
    dagster_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    messages_read: int
    messages_written: int
    messages_removed: int = Field(description="Messages gone upstream, moved to the removed-messages archive.")
    messages_held: int = Field(
        description="Messages this read did not return that were kept anyway: the read skipped items, or the "
        "removal guard held a removal too large to trust (see `error`)."
    )
    items_skipped: int
    error: str | None


class SyncRunPage(PageBase):
    """One page of sync history, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_RUN_EXAMPLE)]})

    items: list[SyncRunOut]


class SkippedItemOut(BaseModel):
    """An item a sync could not ingest, where it was and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SKIPPED_EXAMPLE]})

    id: int
    location: str
    reason: str
    created_at: datetime


class SyncRunDetail(SyncRunOut):
    """A sync run with the items it skipped (the first 100; `items_skipped` is the total)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_RUN_EXAMPLE, "skipped_items": [_SKIPPED_EXAMPLE]}]})

    skipped_items: list[SkippedItemOut]


class ConnectionOut(BaseModel):
    """A source connection of the organisation (settings and credentials are never shown)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CONNECTION_EXAMPLE]})

    id: int
    source: str
    kind: str = Field(description="export | api")
    name: str
    is_active: bool
    created_at: datetime
    last_synced_at: datetime | None
    last_error: str | None


class ConnectionPage(PageBase):
    """One page of the organisation's source connections."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_CONNECTION_EXAMPLE)]})

    items: list[ConnectionOut]


class SyncRequestListParams(ListParams):
    """Filters of the sync requests."""

    status: SyncRequestStatus | None = Field(default=None, description="Only this status.")
    source: SourceName | None = Field(default=None, description="Only this source.")


class SyncRunListParams(ListParams):
    """Filters of the sync history (times apply to `started_at`)."""

    source: SourceName | None = Field(default=None, description="Only this source.")
    status: SyncStatus | None = Field(default=None, description="Only this outcome.")
    connection_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Only this connection.")
    since: UtcDatetime | None = Field(default=None, description="Started at or after this time.")
    until: UtcDatetime | None = Field(default=None, description="Started before this time.")

    @model_validator(mode="after")
    def _range(self) -> SyncRunListParams:
        check_range(self.since, self.until)
        return self


class ConnectionListParams(ListParams):
    """Filters of the source connections."""

    source: SourceName | None = Field(default=None, description="Only this source.")
    is_active: bool | None = Field(default=None, description="Only active (true) or inactive (false) ones.")
