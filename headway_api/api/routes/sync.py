"""Sync requests (POST one, GET status, list), sync history and source connections."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from headway_api.api.deps import AppState, Ctx, json_document, parse_query, query_parameters
from headway_api.api.params import id_path
from headway_api.core.errors import ApiError, invalid_range, not_found
from headway_api.core.principal import Principal
from headway_api.queries.sync import (
    get_sync_request,
    get_sync_run,
    list_connections,
    list_sync_requests,
    list_sync_runs,
)
from headway_api.schemas.common import (
    BAD_REQUEST_RESPONSE,
    ERROR_RESPONSES,
    LIST_ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    ErrorResponse,
)
from headway_api.schemas.sync import (
    ConnectionListParams,
    ConnectionPage,
    SyncRequestCreate,
    SyncRequestListParams,
    SyncRequestOut,
    SyncRequestPage,
    SyncRunDetail,
    SyncRunListParams,
    SyncRunPage,
)
from headway_assets.core.warehouse import sync_requests
from headway_assets.core.warehouse.schema import SourceConnection
from headway_assets.sources.registry import source_names

router = APIRouter(tags=["sync"])


def _create(
    state: AppState, principal: Principal, source: str, first_day: date, last_day: date
) -> tuple[SyncRequestOut, bool]:
    session = state.db.write_session()
    try:
        conn = session.connection()
        connection = conn.execute(
            select(SourceConnection.id).where(
                SourceConnection.org_id == principal.org_id,
                SourceConnection.source == source,
                SourceConnection.is_active.is_(True),
            )
        ).first()
        if connection is None:
            raise ApiError(
                409,
                "no_active_connection",
                f"Your organisation has no active {source} connection; connect {source} first.",
            )
        existing = sync_requests.find_open_sync_request(
            conn, org_id=principal.org_id, source=source, first_day=first_day, last_day=last_day
        )
        if existing is not None:
            return _out(existing), False
        if (
            sync_requests.count_open_sync_requests(conn, org_id=principal.org_id)
            >= state.settings.sync_max_open_requests
        ):
            raise ApiError(
                429,
                "too_many_sync_requests",
                "Your organisation already has the most sync requests waiting; try again when they finish.",
                headers={"Retry-After": "60"},
            )
        record = sync_requests.create_sync_request(
            conn,
            org_id=principal.org_id,
            source=source,
            known_sources=source_names(),
            first_day=first_day,
            last_day=last_day,
            requested_by=principal.user_id,
        )
        session.commit()
        return _out(record), True
    finally:
        session.close()


def _out(record: sync_requests.SyncRequestRecord) -> SyncRequestOut:
    return SyncRequestOut(
        id=record.id,
        source=record.source,
        first_day=record.first_day,
        last_day=record.last_day,
        status=record.status,
        requested_by=record.requested_by,
        dagster_run_id=record.dagster_run_id,
        error=record.error,
        created_at=record.created_at,
        launched_at=record.launched_at,
        finished_at=record.finished_at,
    )


@router.post(
    "/v1/sync-requests",
    response_model=SyncRequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERROR_RESPONSES,
        **BAD_REQUEST_RESPONSE,
        200: {
            "model": SyncRequestOut,
            "description": "The same sync was already waiting; that request is returned.",
        },
        409: {"model": ErrorResponse, "description": "No active connection for that source."},
        429: {"model": ErrorResponse, "description": "Too many sync requests waiting."},
    },
    summary="Request a sync",
)
async def create_sync_request_route(ctx: Ctx, body: SyncRequestCreate, response: Response) -> SyncRequestOut:
    """Ask for an on-demand sync of one source over some UTC days (default: today).

    The request is `pending` until the orchestrator's sensor launches its run (`launched`), then
    `succeeded` or `failed`. Poll GET /v1/sync-requests/{id}.
    """
    state = ctx.state
    today = datetime.now(UTC).date()
    first_day = body.first_day or today
    last_day = body.last_day or first_day
    if last_day < first_day:
        raise invalid_range(["body", "last_day"], "last_day must not be before first_day")
    if last_day > today:
        raise invalid_range(["body", "last_day"], f"cannot sync days after today ({today.isoformat()} UTC)")
    earliest = state.headway.partitions_start
    if first_day < earliest:
        raise invalid_range(["body", "first_day"], f"the pipeline starts on {earliest.isoformat()}")
    if last_day - first_day > timedelta(days=state.settings.sync_max_days - 1):
        raise invalid_range(["body", "last_day"], f"one request covers at most {state.settings.sync_max_days} days")
    record, created = await state.run(_create, state, ctx.principal, body.source, first_day, last_day)
    if not created:
        response.status_code = status.HTTP_200_OK
    return record


@router.get(
    "/v1/sync-requests",
    response_model=SyncRequestPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(SyncRequestListParams),
    summary="List sync requests",
)
async def list_sync_requests_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's sync requests, newest first."""
    params = parse_query(request, SyncRequestListParams)
    return json_document(await list_sync_requests(ctx.db, ctx.org_id, params))


@router.get(
    "/v1/sync-requests/{request_id}",
    response_model=SyncRequestOut,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get a sync request's status",
)
async def get_sync_request_route(ctx: Ctx, request_id: Annotated[int, id_path("The sync request id.")]) -> Response:
    """Where one sync request stands."""
    record = await get_sync_request(ctx.db, ctx.org_id, request_id)
    if record is None:
        raise not_found("Sync request")
    return json_document(record)


@router.get(
    "/v1/sync-runs",
    response_model=SyncRunPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(SyncRunListParams),
    summary="Sync history",
)
async def list_sync_runs_route(ctx: Ctx, request: Request) -> Response:
    """Every sync of the organisation's connections, newest first."""
    params = parse_query(request, SyncRunListParams)
    return json_document(await list_sync_runs(ctx.db, ctx.org_id, params))


@router.get(
    "/v1/sync-runs/{run_id}",
    response_model=SyncRunDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one sync run",
)
async def get_sync_run_route(ctx: Ctx, run_id: Annotated[int, id_path("The sync run id.")]) -> Response:
    """One sync run with the items it skipped."""
    run = await get_sync_run(ctx.db, ctx.org_id, run_id)
    if run is None:
        raise not_found("Sync run")
    return json_document(run)


@router.get(
    "/v1/connections",
    response_model=ConnectionPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(ConnectionListParams),
    summary="List connections",
)
async def list_connections_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's source connections (what can be synced)."""
    params = parse_query(request, ConnectionListParams)
    return json_document(await list_connections(ctx.db, ctx.org_id, params))
