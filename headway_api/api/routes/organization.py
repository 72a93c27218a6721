"""The caller's organisation: GET and PATCH /v1/organization/settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from headway_api.api.deps import Ctx, RequestContext
from headway_api.core.errors import ApiError
from headway_api.queries import organization
from headway_api.schemas.common import ERROR_RESPONSES, ErrorResponse
from headway_api.schemas.organization import OrganizationSettings, OrganizationSettingsPatch

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
    """Each setting of your organisation as the pipeline applies it: its value, whether it is the
    organisation's own or the deployment default, the default, and for `call_model` the values it may take."""
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
    one back to the deployment default. Answers every setting as GET does; the change is logged with
    who made it, when, and each changed value before and after."""
    require_admin(ctx)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    state = ctx.state
    return await state.run(organization.patch_settings, state.db, ctx.principal, state.headway, changes)
