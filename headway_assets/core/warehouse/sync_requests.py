"""On-demand sync requests: written by the read API, picked up by a Dagster sensor.

Life of a request: `pending` (the API wrote it) -> `launched` (the sensor started a run for it)
-> `succeeded` or `failed` (the run ended). A pending request the sensor cannot launch goes
straight to `failed` with the reason. Every transition is a conditional UPDATE, so two sensor
ticks racing on one request launch it once: the loser's `mark_*` returns False.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from headway_assets.core.kinds import SourceKind
from headway_assets.core.warehouse.schema import SyncRequest, SyncRequestStatus, utc_now

# Requests still waiting for, or running in, a Dagster run.
OPEN_STATUSES: tuple[str, ...] = (SyncRequestStatus.PENDING.value, SyncRequestStatus.LAUNCHED.value)
# Longest error text kept on a row; a run's full log stays in Dagster.
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class SyncRequestRecord:
    """One row of `sync_requests`, as the API and the sensor read it."""

    id: int
    org_id: int
    source: str
    first_day: date
    last_day: date
    status: str
    requested_by: int | None
    dagster_run_id: str | None
    error: str | None
    created_at: datetime
    launched_at: datetime | None
    finished_at: datetime | None


_COLUMNS = (
    SyncRequest.id,
    SyncRequest.org_id,
    SyncRequest.source,
    SyncRequest.first_day,
    SyncRequest.last_day,
    SyncRequest.status,
    SyncRequest.requested_by,
    SyncRequest.dagster_run_id,
    SyncRequest.error,
    SyncRequest.created_at,
    SyncRequest.launched_at,
    SyncRequest.finished_at,
)


def _record(row: Row[Any]) -> SyncRequestRecord:
    return SyncRequestRecord(**row._asdict())


def create_sync_request(
    conn: Connection,
    *,
    org_id: int,
    source: SourceKind,
    known_sources: Collection[str],
    first_day: date,
    last_day: date,
    requested_by: int | None = None,
) -> SyncRequestRecord:
    """Write a pending request to sync `source` for the days `[first_day, last_day]`.

    `known_sources` is the source registry's list of names (the kernel keeps none): a request
    for any other name is a `ValueError` naming it.
    """
    if source not in known_sources:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(known_sources)}")
    source_value = str(source)
    if last_day < first_day:
        raise ValueError(f"sync request for {source_value}: last_day {last_day} is before first_day {first_day}")
    row = conn.execute(
        insert(SyncRequest)
        .values(
            org_id=org_id,
            source=source_value,
            first_day=first_day,
            last_day=last_day,
            status=SyncRequestStatus.PENDING.value,
            requested_by=requested_by,
            created_at=utc_now(),
        )
        .returning(*_COLUMNS)
    ).one()
    return _record(row)


def get_sync_request(conn: Connection, request_id: int, *, org_id: int | None = None) -> SyncRequestRecord | None:
    """The request `request_id` (restricted to `org_id` when given), or None."""
    query = select(*_COLUMNS).where(SyncRequest.id == request_id)
    if org_id is not None:
        query = query.where(SyncRequest.org_id == org_id)
    row = conn.execute(query).one_or_none()
    return None if row is None else _record(row)


def find_open_sync_request(
    conn: Connection, *, org_id: int, source: str, first_day: date, last_day: date
) -> SyncRequestRecord | None:
    """A pending or launched request of the organisation for exactly this source and range, if any."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(
            SyncRequest.org_id == org_id,
            SyncRequest.source == source,
            SyncRequest.first_day == first_day,
            SyncRequest.last_day == last_day,
            SyncRequest.status.in_(OPEN_STATUSES),
        )
        .order_by(SyncRequest.id)
        .limit(1)
    ).one_or_none()
    return None if row is None else _record(row)


def count_open_sync_requests(conn: Connection, *, org_id: int) -> int:
    """How many of the organisation's requests are pending or launched."""
    count = conn.execute(
        select(func.count())
        .select_from(SyncRequest)
        .where(SyncRequest.org_id == org_id, SyncRequest.status.in_(OPEN_STATUSES))
    ).scalar_one()
    return int(count)


def list_pending_sync_requests(conn: Connection, *, limit: int = 50) -> list[SyncRequestRecord]:
    """The oldest pending requests of every organisation, first come first served (for the sensor)."""
    rows = conn.execute(
        select(*_COLUMNS)
        .where(SyncRequest.status == SyncRequestStatus.PENDING.value)
        .order_by(SyncRequest.id)
        .limit(limit)
    ).all()
    return [_record(row) for row in rows]


def list_launched_sync_requests(conn: Connection, *, limit: int = 200) -> list[SyncRequestRecord]:
    """Requests whose run was launched and has not been reported finished (to poll their runs)."""
    rows = conn.execute(
        select(*_COLUMNS)
        .where(SyncRequest.status == SyncRequestStatus.LAUNCHED.value)
        .order_by(SyncRequest.id)
        .limit(limit)
    ).all()
    return [_record(row) for row in rows]


def _transition(conn: Connection, request_id: int, *, from_statuses: Sequence[str], values: dict[str, object]) -> bool:
    result = conn.execute(
        update(SyncRequest)
        .where(SyncRequest.id == request_id, SyncRequest.status.in_(tuple(from_statuses)))
        .values(**values)
    )
    return result.rowcount == 1


def mark_sync_request_launched(conn: Connection, request_id: int, *, dagster_run_id: str | None) -> bool:
    """pending -> launched, recording the Dagster run; False if the request was not pending.

    A sensor asks for runs before Dagster has given them ids: it passes None and attaches the
    run id on a later tick (`attach_sync_request_run`).
    """
    return _transition(
        conn,
        request_id,
        from_statuses=(SyncRequestStatus.PENDING.value,),
        values={
            "status": SyncRequestStatus.LAUNCHED.value,
            "dagster_run_id": dagster_run_id,
            "launched_at": utc_now(),
        },
    )


def mark_sync_request_succeeded(conn: Connection, request_id: int) -> bool:
    """launched -> succeeded; False if the request was not launched."""
    return _transition(
        conn,
        request_id,
        from_statuses=(SyncRequestStatus.LAUNCHED.value,),
        values={"status": SyncRequestStatus.SUCCEEDED.value, "finished_at": utc_now(), "error": None},
    )


def mark_sync_request_failed(conn: Connection, request_id: int, *, error: str) -> bool:
    """pending or launched -> failed with `error` (trimmed); False if the request had already ended."""
    message = error.strip() or "failed without a message"
    if len(message) > MAX_ERROR_LENGTH:
        message = message[: MAX_ERROR_LENGTH - 1] + "…"
    return _transition(
        conn,
        request_id,
        from_statuses=OPEN_STATUSES,
        values={"status": SyncRequestStatus.FAILED.value, "finished_at": utc_now(), "error": message},
    )


def attach_sync_request_run(conn: Connection, request_id: int, *, dagster_run_id: str) -> bool:
    """Record the Dagster run of a launched request (found by its tag after launch)."""
    return _transition(
        conn,
        request_id,
        from_statuses=(SyncRequestStatus.LAUNCHED.value,),
        values={"dagster_run_id": dagster_run_id},
    )
