"""Slack notification subscriptions: GET/POST /v1/notifications/subscriptions, PATCH/DELETE one.

A subscription tells a Slack channel about one theme's new and rising requests, high-risk calls
and a weekly digest; the `slack_notifications` sensor and the `weekly_digest` schedule post them
with the organisation's Slack connection. People (admin, member) change subscriptions; service
tokens only read them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from headway_api.api.deps import CATALOGUE_WRITE_ROLES, Ctx, RequestContext, json_document
from headway_api.api.params import id_path
from headway_api.core.errors import ApiError, not_found
from headway_api.queries import notifications
from headway_api.schemas.common import ERROR_RESPONSES, NOT_FOUND_RESPONSE, WRITE_ERROR_RESPONSES, ErrorResponse
from headway_api.schemas.notifications import (
    NotificationSubscription,
    NotificationSubscriptionPage,
    SubscriptionCreate,
    SubscriptionPatch,
)

router = APIRouter(prefix="/v1/notifications/subscriptions", tags=["notifications"])
SUBSCRIPTION_WRITE_RESPONSES = {
    **WRITE_ERROR_RESPONSES,
    400: {
        "model": ErrorResponse,
        "description": "`invalid_value`: a theme not in your taxonomy, a channel id that is not one (C... or G...),"
        " no signal. Nothing changed.",
    },
    403: {"model": ErrorResponse, "description": "Only people (admin, member) change subscriptions."},
    409: {"model": ErrorResponse, "description": "`conflict`: the channel already has a subscription for this theme."},
}


def require_person_write(ctx: RequestContext) -> None:
    """403 unless the caller is a person of the organisation (admin or member): service tokens read only."""
    role = ctx.principal.role
    if role in CATALOGUE_WRITE_ROLES:
        return
    if role == "service":
        raise ApiError(403, "forbidden", "Service tokens may only read notification subscriptions.")
    raise ApiError(403, "forbidden", f"Your role ({role}) may not change notification subscriptions.")


@router.get("", response_model=NotificationSubscriptionPage, responses=ERROR_RESPONSES, summary="List subscriptions")
async def list_subscriptions_route(ctx: Ctx) -> Response:
    """Every Slack subscription of the organisation, oldest first (one page: at most 100 exist)."""
    return json_document(await notifications.list_subscriptions(ctx.db, ctx.org_id))


@router.get(
    "/{subscription_id}",
    response_model=NotificationSubscription,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one subscription",
)
async def get_subscription_route(
    ctx: Ctx, subscription_id: Annotated[int, id_path("The subscription id.")]
) -> Response:
    """One subscription of the organisation."""
    document = await notifications.get_subscription(ctx.db, ctx.org_id, subscription_id)
    if document is None:
        raise not_found("Subscription")
    return json_document(document)


@router.post(
    "",
    response_model=NotificationSubscription,
    status_code=201,
    responses=SUBSCRIPTION_WRITE_RESPONSES,
    summary="Subscribe a Slack channel",
)
async def create_subscription_route(ctx: Ctx, body: SubscriptionCreate) -> Response:
    """Subscribe a Slack channel (by id) to a theme's signals, or every theme's (`theme` omitted or null).
    The organisation's Slack app posts them: invite it to a private channel first."""
    require_person_write(ctx)
    state = ctx.state
    values = body.model_dump(exclude_unset=True)
    document = await state.run(notifications.create_subscription, state.db, ctx.principal, values)
    response = json_document(document)
    response.status_code = 201
    return response


@router.patch(
    "/{subscription_id}",
    response_model=NotificationSubscription,
    responses=SUBSCRIPTION_WRITE_RESPONSES,
    summary="Change a subscription",
)
async def patch_subscription_route(
    ctx: Ctx, subscription_id: Annotated[int, id_path("The subscription id.")], body: SubscriptionPatch
) -> Response:
    """Change the theme, channel, signals or `is_active`; omitted fields stay."""
    require_person_write(ctx)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    state = ctx.state
    return json_document(
        await state.run(notifications.patch_subscription, state.db, ctx.principal, subscription_id, changes)
    )


@router.delete(
    "/{subscription_id}",
    response_model=NotificationSubscription,
    responses=SUBSCRIPTION_WRITE_RESPONSES,
    summary="Delete a subscription",
)
async def delete_subscription_route(
    ctx: Ctx, subscription_id: Annotated[int, id_path("The subscription id.")]
) -> Response:
    """Delete a subscription and its record of posts; nothing more is posted for it. Answers the
    subscription as it was."""
    require_person_write(ctx)
    state = ctx.state
    return json_document(await state.run(notifications.delete_subscription, state.db, ctx.principal, subscription_id))
