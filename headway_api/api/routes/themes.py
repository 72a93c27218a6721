"""GET /v1/themes: the taxonomy with counts."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.queries.themes import list_themes
from headway_api.schemas.common import LIST_ERROR_RESPONSES
from headway_api.schemas.themes import ThemeListParams, ThemePage

router = APIRouter(prefix="/v1/themes", tags=["themes"])


@router.get(
    "",
    response_model=ThemePage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(ThemeListParams),
    summary="List themes and sub-themes",
)
async def list_themes_route(ctx: Ctx, request: Request) -> Response:
    """The taxonomy in path order (a theme right before its sub-themes), with catalogue counts."""
    params = parse_query(request, ThemeListParams)
    return json_document(await list_themes(ctx.db, ctx.org_id, params))
