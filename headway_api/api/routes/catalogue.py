"""The catalogue's audit trail: GET /v1/catalogue/audit and POST /v1/catalogue/audit/{id}/undo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.api.params import id_path
from headway_api.queries import corrections
from headway_api.schemas.common import LIST_ERROR_RESPONSES, WRITE_ERROR_RESPONSES
from headway_api.schemas.feature_requests import AuditListParams, AuditPage, CatalogueChange

router = APIRouter(prefix="/v1/catalogue", tags=["feature requests"])


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(AuditListParams),
    summary="The catalogue's audit trail",
)
async def list_audit_route(ctx: Ctx, request: Request) -> Response:
    """Every change people made to the organisation's catalogue and taxonomy, newest first."""
    params = parse_query(request, AuditListParams)
    page = await corrections.list_audit(ctx.db, ctx.org_id, params)
    assert page is not None  # only a request's trail can be missing
    return json_document(page)


@router.post(
    "/audit/{audit_id}/undo",
    response_model=CatalogueChange,
    responses=WRITE_ERROR_RESPONSES,
    summary="Undo a change",
)
async def undo_route(ctx: Ctx, audit_id: Annotated[int, id_path("The audit entry of the change.")]) -> Response:
    """Reverse one change (an edit, a merge, a move, a taxonomy change) and record the undo. Refused
    (409) when it was undone already, or when a request or the taxonomy it touched changed since:
    undo the later changes first. An undo itself is not undone; make the change again."""
    require_catalogue_write(ctx)
    state = ctx.state
    return json_document(await state.run(corrections.undo, state.db, ctx.principal, audit_id))
