"""POST /v1/auth/token (OAuth2 password flow) and GET /v1/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm

from headway_api.api.deps import Ctx, StateDep
from headway_api.core.errors import ApiError
from headway_api.core.login import MAX_USERNAME_LENGTH, attempt_login
from headway_api.core.security import MAX_PASSWORD_LENGTH
from headway_api.schemas.auth import MeResponse, OrganizationOut, TokenResponse
from headway_api.schemas.common import ERROR_RESPONSES, SINGLE_LINE, ErrorResponse

router = APIRouter(tags=["auth"])


class PasswordForm(OAuth2PasswordRequestForm):
    """The OAuth2 password-flow form, with the limits sign-in enforces written into the schema.

    A username is one line of text (PostgreSQL refuses a NUL character in text, which was a 500)
    and both fields are bounded, so the OpenAPI document says what is refused with 422.
    """

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[
            str,
            Form(max_length=MAX_USERNAME_LENGTH, pattern=SINGLE_LINE, description="Your e-mail address."),
        ],
        password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH, json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


@router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    responses={
        401: {"model": ErrorResponse, "description": "Wrong e-mail or password."},
        422: ERROR_RESPONSES[422],
        429: {"model": ErrorResponse, "description": "Too many failed attempts; see Retry-After."},
        503: {"model": ErrorResponse, "description": "Tokens are issued by the identity provider, not here."},
    },
    summary="Sign in (OAuth2 password flow)",
)
async def issue_token(request: Request, state: StateDep, form: Annotated[PasswordForm, Depends()]) -> TokenResponse:
    """Exchange an e-mail (`username`) and password for a bearer access token.

    Failed attempts are rate-limited per account and per client address (429 with Retry-After).
    """
    if not state.tokens.can_issue:
        raise ApiError(503, "token_issuance_disabled", "Sign in with your identity provider.")
    client = request.client.host if request.client else "unknown"
    outcome = await state.run(
        attempt_login,
        state.db,
        state.settings,
        state.tokens,
        username=form.username,
        password=form.password,
        client=client,
    )
    if outcome.retry_after is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            "Too many failed sign-in attempts; try again later.",
            headers={"Retry-After": str(outcome.retry_after)},
        )
    if outcome.token is None:
        raise ApiError(401, "invalid_credentials", "Wrong e-mail or password.", headers={"WWW-Authenticate": "Bearer"})
    return TokenResponse(
        access_token=outcome.token.access_token, token_type="bearer", expires_in=outcome.token.expires_in
    )


@router.get("/v1/me", response_model=MeResponse, responses={401: ERROR_RESPONSES[401]}, summary="Who am I")
async def me(ctx: Ctx) -> MeResponse:
    """The caller's identity and organisation, from the token."""
    principal = ctx.principal
    return MeResponse(
        subject=principal.subject,
        user_id=principal.user_id,
        email=principal.email,
        full_name=principal.full_name,
        role=principal.role,
        organization=OrganizationOut(id=principal.org_id, slug=principal.org_slug, name=principal.org_name),
    )
