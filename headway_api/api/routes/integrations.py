"""Connecting sources: the Slack app install (OAuth v2) and the Fathom new-meeting webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from headway_api.api.deps import Ctx, StateDep
from headway_api.core.errors import ApiError
from headway_api.schemas.common import ERROR_RESPONSES, ErrorResponse
from headway_assets.sources.fathom.webhook import (
    WebhookConnectionError,
    WebhookPayloadError,
    WebhookVerificationError,
    receive_fathom_webhook,
)
from headway_assets.sources.slack.oauth import (
    SlackInstallError,
    SlackOAuthSettings,
    complete_install_from_settings,
    install_redirect_url,
)

router = APIRouter(tags=["integrations"])
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024  # transcripts reach a few hundred KB; refuse anything absurd
INSTALL_ROLES = frozenset({"admin", "owner"})


class SlackInstallStart(BaseModel):
    """Where to send the admin's browser to approve the Slack app."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "authorize_url": "https://slack.com/oauth/v2/authorize?client_id=1111.2222&scope=channels:history,channels:read&state=…"
                }
            ]
        }
    )

    authorize_url: str


class SlackInstallDone(BaseModel):
    """The Slack connection the install created or refreshed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_id": 12, "source": "slack"}]})

    connection_id: int
    source: str = "slack"


class FathomDelivery(BaseModel):
    """A verified and ingested Fathom delivery."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"webhook_id": "msg_2f9c1d", "external_id": "123456789", "inserted": True}]}
    )

    webhook_id: str
    external_id: str = Field(description="The meeting's message id (the recording id).")
    inserted: bool = Field(description="False when the same meeting was delivered before.")


def _slack_error(error: SlackInstallError) -> ApiError:
    return ApiError(error.status, error.code, str(error))


@router.get(
    "/v1/integrations/slack/install",
    response_model=SlackInstallStart,
    summary="Start installing the Slack app for your organisation",
    responses={
        **ERROR_RESPONSES,
        403: {"model": ErrorResponse, "description": "Only an admin may install."},
        503: {"model": ErrorResponse, "description": "The Slack app is not configured on this server."},
    },
)
async def slack_install(ctx: Ctx, redirect: bool = False) -> Response:
    """The URL of Slack's consent page, with a signed, expiring `state` bound to the caller's
    organisation: the frontend sends the admin's browser there. With `redirect=true` the answer
    is a 302 to it instead. Only admins of the organisation may install."""
    if ctx.principal.role not in INSTALL_ROLES:
        raise ApiError(403, "forbidden", "Only an admin of your organisation can install the Slack app.")
    try:
        url = install_redirect_url(ctx.org_id, settings=SlackOAuthSettings.from_env(), now=datetime.now(UTC))
    except SlackInstallError as error:
        raise _slack_error(error) from None
    body = SlackInstallStart(authorize_url=url).model_dump_json()
    if redirect:
        return Response(body, status_code=302, media_type="application/json", headers={"Location": url})
    return Response(body, media_type="application/json")


@router.get(
    "/v1/integrations/slack/callback",
    response_model=SlackInstallDone,
    summary="Slack's redirect after the admin approved (or cancelled) the install",
    responses={
        **ERROR_RESPONSES,
        400: {
            "model": ErrorResponse,
            "description": "No, a tampered or an expired `state`; the install was cancelled; Slack refused the code.",
        },
        503: {"model": ErrorResponse, "description": "The Slack app is not configured on this server."},
    },
)
async def slack_callback(
    app_state: StateDep, request: Request, code: str | None = None, error: str | None = None
) -> SlackInstallDone:
    """Exchanges the code with `oauth.v2.access`, stores the bot token encrypted and returns the
    connection. The signed `state` identifies the organisation, so no bearer token is needed."""
    signed_state = request.query_params.get("state")
    if not signed_state:
        raise ApiError(400, "invalid_state", "The callback has no state; start the install again.")

    def complete() -> int:
        session = app_state.db.write_session()
        try:
            connection_id = complete_install_from_settings(
                session.connection(),
                code=code,
                state=signed_state,
                error=error,
                settings=SlackOAuthSettings.from_env(),
                now=datetime.now(UTC),
            )
            session.commit()
            return int(connection_id)
        finally:
            session.close()

    try:
        connection_id = await run_in_threadpool(complete)
    except SlackInstallError as install_error:
        raise _slack_error(install_error) from None
    return SlackInstallDone(connection_id=connection_id)


@router.post(
    "/v1/webhooks/fathom/{connection_id}",
    response_model=FathomDelivery,
    summary="Fathom's new-meeting webhook (Standard Webhooks signature)",
    responses={
        401: {"description": "Signature missing, wrong or too old."},
        404: {"description": "No active Fathom connection with a webhook secret at this URL."},
        413: {"description": "Body too large."},
        422: {"description": "Authentic, but not a usable meeting."},
    },
)
async def fathom_webhook(connection_id: int, request: Request, app_state: StateDep) -> FathomDelivery:
    """Verifies the delivery against the connection's webhook secret over the raw body, then
    upserts the meeting into its day (idempotent: a repeated delivery changes nothing)."""
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, "too_large", f"Webhook bodies over {MAX_WEBHOOK_BYTES} bytes are refused.")
    headers = dict(request.headers)

    def receive() -> Any:
        session = app_state.db.write_session()
        try:
            outcome = receive_fathom_webhook(
                session.connection(),
                connection_id=connection_id,
                headers=headers,
                raw_body=raw,
                now=datetime.now(UTC),
            )
            session.commit()
            return outcome
        finally:
            session.close()

    try:
        outcome = await run_in_threadpool(receive)
    except WebhookConnectionError:
        raise ApiError(404, "not_found", "No active Fathom connection with a webhook secret at this URL.") from None
    except WebhookVerificationError as error:
        raise ApiError(401, "invalid_signature", str(error)) from None
    except WebhookPayloadError as error:
        raise ApiError(422, "invalid_meeting", str(error)) from None
    return FathomDelivery(webhook_id=outcome.webhook_id, external_id=outcome.external_id, inserted=outcome.inserted)
