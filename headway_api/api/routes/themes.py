"""The taxonomy: GET /v1/themes with counts; create, rename, move and retire themes and sub-themes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.queries import corrections
from headway_api.queries.themes import list_themes
from headway_api.schemas.common import LIST_ERROR_RESPONSES, WRITE_ERROR_RESPONSES
from headway_api.schemas.themes import (
    ThemeChange,
    ThemeCreate,
    ThemeListParams,
    ThemePage,
    ThemePatch,
    ThemeRetireParams,
)

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


ThemePath = Annotated[
    str,
    Path(
        max_length=123,
        pattern=r"^[a-z0-9][a-z0-9-]{0,60}(/[a-z0-9][a-z0-9-]{0,60})?$",
        description="`reporting` (a theme) or `reporting/pdf-export` (a sub-theme).",
    ),
]


@router.post(
    "",
    response_model=ThemeChange,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_ERROR_RESPONSES,
    summary="Create a theme or sub-theme",
)
async def create_theme_route(ctx: Ctx, body: ThemeCreate) -> Response:
    """Add a theme (`path` of one segment) or a sub-theme (`<theme>/<sub-theme>`) to the taxonomy."""
    require_catalogue_write(ctx)
    parent, _, leaf = body.path.rpartition("/")
    values: dict[str, Any] = {
        "segment": leaf,
        "parent": parent or None,
        "name": body.name,
        "description": body.description,
        "keywords": body.keywords,
    }
    state = ctx.state
    document = await state.run(corrections.create_theme, state.db, ctx.principal, values)
    response = json_document(document)
    response.status_code = status.HTTP_201_CREATED
    return response


@router.patch(
    "/{path:path}", response_model=ThemeChange, responses=WRITE_ERROR_RESPONSES, summary="Rename or move a theme"
)
async def edit_theme_route(ctx: Ctx, path: ThemePath, body: ThemePatch) -> Response:
    """Rename a theme or sub-theme (`name`, or a new `path`), re-describe it, or move a sub-theme to
    another theme (a `path` under that theme). A theme's new path renames its sub-themes' paths.
    Mentions and requests filed under the old paths follow in the same transaction."""
    require_catalogue_write(ctx)
    values: dict[str, Any] = {
        "new_path": body.path,
        "name": body.name,
        "description": body.description,
        "keywords": body.keywords,
    }
    state = ctx.state
    return json_document(await state.run(corrections.edit_theme, state.db, ctx.principal, path, values))


@router.delete(
    "/{path:path}",
    response_model=ThemeChange,
    responses=WRITE_ERROR_RESPONSES,
    openapi_extra=query_parameters(ThemeRetireParams),
    summary="Retire a theme or sub-theme",
)
async def retire_theme_route(ctx: Ctx, request: Request, path: ThemePath) -> Response:
    """Remove a theme (with its sub-themes) or a sub-theme from the taxonomy. Its mentions and
    requests move to `into`, or lose the placement. Undo it with the audit entry it returns."""
    require_catalogue_write(ctx)
    params = parse_query(request, ThemeRetireParams)
    state = ctx.state
    return json_document(await state.run(corrections.retire_theme, state.db, ctx.principal, path, params.into))
