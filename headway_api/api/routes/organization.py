"""The caller's organisation: GET and PATCH /v1/organization/settings, and GET .../settings/history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, RequestContext, json_document, parse_query, query_parameters
from headway_api.core.errors import ApiError
from headway_api.queries import organization
from headway_api.schemas.common import ERROR_RESPONSES, LIST_ERROR_RESPONSES, ErrorResponse
from headway_api.schemas.organization import (
    OrganizationSettings,
    OrganizationSettingsPatch,
    SettingsHistoryPage,
    SettingsHistoryParams,
)

router = APIRouter(prefix="/v1/organization", tags=["organization"])
SETTINGS_WRITE_ROLE = "admin"


def require_admin(ctx: RequestContext) -> None:
    """403 unless the caller is an administrator of the organisation (service tokens never are)."""
    role = ctx.principal.role
    if role != SETTINGS_WRITE_ROLE:
        raise ApiError(403, "forbidden", f"Only an organisation admin may change its settings; your role is {role}.")


@router.get(
    "/settings",
    response_model=OrganizationSettings,
    responses=ERROR_RESPONSES,
    summary="The organisation's settings",
)
async def get_settings_route(ctx: Ctx) -> Any:
    """Each setting of your organisation: its value, whether it is the organisation's own or the
    deployment default, the default, what the pipeline applies (`effective`, with a `reason` when that
    is not the value: the provider ignores the setting or does not offer the value), and for
    `call_model` the values it may take."""
    return await organization.get_settings(ctx.db, ctx.org_id, ctx.state.headway)


@router.patch(
    "/settings",
    response_model=OrganizationSettings,
    responses={
        **ERROR_RESPONSES,
        400: {
            "model": ErrorResponse,
            "description": "`invalid_value`: a `call_model` the deployment's provider does not have (the message"
            " lists the allowed ones), or no valid domain. Nothing changed.",
        },
        403: {"model": ErrorResponse, "description": "Only an organisation admin may change its settings."},
        422: {
            "model": ErrorResponse,
            "description": "An unknown setting, or a value of the wrong type or out of range. Nothing changed.",
        },
    },
    summary="Change the organisation's settings",
)
async def patch_settings_route(ctx: Ctx, body: OrganizationSettingsPatch) -> Any:
    """Change some of your organisation's settings (admins only). Omitted settings stay; `null` clears
    one back to the deployment default. Answers every setting as GET does; each changed setting is
    recorded in the settings history (who, when, before and after); a PATCH that changes nothing
    records nothing."""
    require_admin(ctx)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    state = ctx.state
    return await state.run(organization.patch_settings, state.db, ctx.principal, state.headway, changes)


@router.get(
    "/settings/history",
    response_model=SettingsHistoryPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(SettingsHistoryParams),
    summary="Who changed the organisation's settings",
)
async def settings_history_route(ctx: Ctx, request: Request) -> Response:
    """Every change of your organisation's settings, newest first, one entry per setting changed:
    who (the token's subject and user, or `cli:LOGIN` for a `headway orgs` command), when, through
    what (`api` or `cli`), the organisation's own value before and after (null: the deployment
    default). Any member of the organisation and its service tokens may read it."""
    params = parse_query(request, SettingsHistoryParams)
    return json_document(await organization.list_history(ctx.db, ctx.org_id, params))
