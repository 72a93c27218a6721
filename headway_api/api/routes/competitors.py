"""Competitors: GET /v1/competitors (with mention counts and trend) and one competitor (with the
asks that co-occur), POST, PATCH and DELETE for the people who edit the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries import competitors
from headway_api.schemas.common import (
    ERROR_RESPONSES,
    LIST_ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    WRITE_ERROR_RESPONSES,
    ErrorResponse,
)
from headway_api.schemas.competitors import (
    CompetitorCreate,
    CompetitorDeleted,
    CompetitorDetail,
    CompetitorListParams,
    CompetitorPage,
    CompetitorPatch,
)

router = APIRouter(prefix="/v1/competitors", tags=["competitors"])
COMPETITOR_WRITE_RESPONSES = {
    **WRITE_ERROR_RESPONSES,
    400: {
        "model": ErrorResponse,
        "description": "`invalid_value`: an empty name, a name or alias of one character, too many aliases."
        " Nothing changed.",
    },
    409: {
        "model": ErrorResponse,
        "description": "`conflict`: a name or alias another competitor of your organisation has.",
    },
}


@router.get(
    "",
    response_model=CompetitorPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(CompetitorListParams),
    summary="List competitors",
)
async def list_competitors_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's competitors by name, each with the messages naming it (in all, per
    context, in the last two weeks) and its trend, paginated by cursor."""
    params = parse_query(request, CompetitorListParams)
    return json_document(await competitors.list_competitors(ctx.db, ctx.org_id, params))


@router.get(
    "/{competitor_id:int}",
    response_model=CompetitorDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one competitor",
)
async def get_competitor_route(ctx: Ctx, competitor_id: Annotated[int, id_path("The competitor id.")]) -> Response:
    """One competitor with its counts and trend, the feature requests asked in the messages that
    name it (most shared first), and its latest mentions with their evidence."""
    detail = await competitors.get_competitor(ctx.db, ctx.org_id, competitor_id)
    if detail is None:
        raise not_found("Competitor")
    return json_document(detail)


@router.post(
    "",
    response_model=CompetitorDetail,
    status_code=201,
    responses=COMPETITOR_WRITE_RESPONSES,
    summary="Add a competitor",
)
async def create_competitor_route(ctx: Ctx, body: CompetitorCreate) -> Response:
    """Add a competitor with its aliases. Tier-2 looks for it in the messages it reads from now on
    (and in earlier ones at the next refresh)."""
    require_catalogue_write(ctx)
    state = ctx.state
    response = json_document(await state.run(competitors.create_competitor, state.db, ctx.principal, body.model_dump()))
    response.status_code = 201
    return response


@router.patch(
    "/{competitor_id:int}",
    response_model=CompetitorDetail,
    responses=COMPETITOR_WRITE_RESPONSES,
    summary="Edit a competitor",
)
async def patch_competitor_route(
    ctx: Ctx, competitor_id: Annotated[int, id_path("The competitor id.")], body: CompetitorPatch
) -> Response:
    """Rename a competitor or replace its aliases (the whole set; null or [] for none). Omitted
    fields stay."""
    require_catalogue_write(ctx)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    state = ctx.state
    return json_document(await state.run(competitors.patch_competitor, state.db, ctx.principal, competitor_id, changes))


@router.delete(
    "/{competitor_id:int}",
    response_model=CompetitorDeleted,
    responses={**WRITE_ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Delete a competitor",
)
async def delete_competitor_route(ctx: Ctx, competitor_id: Annotated[int, id_path("The competitor id.")]) -> Response:
    """Delete a competitor and its recorded mentions (say how many)."""
    require_catalogue_write(ctx)
    state = ctx.state
    return json_document(await state.run(competitors.delete_competitor, state.db, ctx.principal, competitor_id))
