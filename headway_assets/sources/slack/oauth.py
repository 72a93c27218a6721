"""Slack OAuth v2 install flow: the install redirect and the callback (vendor-apis.md §1.1).

The API exposes two endpoints built on these functions:

1. install: `build_install_url(org_id, ...)` gives the `https://slack.com/oauth/v2/authorize`
   URL to redirect the admin's browser to. Its `state` is a signed, expiring token carrying the
   organisation id and a random nonce (HMAC-SHA256 over the payload with a server secret), so the
   callback knows which organisation is installing and that the request started here;
2. callback: Slack redirects to the redirect URI with `?code=…&state=…` (or `?error=…&state=…`
   when the admin cancels). `complete_install(conn, code=…, state=…, error=…, ...)` verifies the
   state, exchanges the code with `oauth.v2.access` through slack-sdk's `WebClient` (client id and
   secret as HTTP Basic auth, as the SDK sends them), upserts the organisation's Slack connection
   (kind "api") and stores `{bot_token, refresh_token?, expires_at?}` encrypted.

Every failure is a `SlackInstallError` with a stable `code` (for the API's answer), an HTTP
status hint and a message that says what to do and never contains a secret.

Settings come from the `slack` section of the settings tree (`SlackOAuthSettings.from_env`):
SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_REDIRECT_URI, HEADWAY_SLACK_STATE_SECRET (optional: derived from the
client secret when unset), SLACK_API_BASE_URL and SLACK_AUTHORIZE_URL (optional, for a proxy or
a local fake), HEADWAY_SLACK_STATE_TTL_SECONDS (optional, default 600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.error import URLError
from urllib.parse import quote

from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator
from sqlalchemy import Connection, select

from headway_assets.core.credentials import redact
from headway_assets.core.settings import SlackSettings, get_settings, section_from_variables
from headway_assets.core.warehouse.schema import ConnectionKind, Organization, SourceConnection
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection
from headway_assets.sources.slack import SOURCE
from headway_assets.sources.slack.live import (
    DEFAULT_BASE_URL,
    RetryBudget,
    build_web_client,
)

AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
# Read-only ingestion scopes (vendor-apis.md §1.1): list and read public and private channels
# the app is in, and name authors with their e-mail (which tells customers from staff).
READ_SCOPES: tuple[str, ...] = (
    "channels:history",
    "channels:read",
    "groups:history",
    "groups:read",
    "users:read",
    "users:read.email",
)
DEFAULT_STATE_TTL = timedelta(minutes=10)
DEFAULT_CONNECTION_NAME = "slack"
STATE_VERSION = "v1"

logger = logging.getLogger(__name__)

CLIENT_ID_ENV = "SLACK_CLIENT_ID"
CLIENT_SECRET_ENV = "SLACK_CLIENT_SECRET"
REDIRECT_URI_ENV = "SLACK_REDIRECT_URI"
STATE_SECRET_ENV = "HEADWAY_SLACK_STATE_SECRET"
API_BASE_URL_ENV = "SLACK_API_BASE_URL"
AUTHORIZE_URL_ENV = "SLACK_AUTHORIZE_URL"
STATE_TTL_ENV = "HEADWAY_SLACK_STATE_TTL_SECONDS"

# oauth.v2.access errors (vendor-apis.md §1.1) and what the operator should do about them.
EXCHANGE_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_code": (
        400,
        "Slack did not accept the authorization code (it is wrong, expired or was already used); "
        "start the Slack install again from Headway",
    ),
    "bad_redirect_uri": (
        500,
        f"the redirect URI does not match the one the install started with or the Slack app's Redirect URLs; "
        f"set {REDIRECT_URI_ENV} to exactly the Redirect URL in the Slack app's OAuth & Permissions page",
    ),
    "invalid_client_id": (
        500,
        f"Slack does not know the client id; set {CLIENT_ID_ENV} from the Slack app's Basic Information page",
    ),
    "bad_client_secret": (
        500,
        f"Slack refused the client secret; set {CLIENT_SECRET_ENV} from the Slack app's Basic Information page",
    ),
    "oauth_authorization_url_mismatch": (
        400,
        "the install was started from a different authorize URL (v1 vs v2); start the install again from Headway",
    ),
    "invalid_grant_type": (500, "Headway sent an unsupported grant type; this is a bug, please report it"),
    "no_scopes": (500, "the install asked for no scopes; check the Slack app's configuration"),
    "cannot_install_an_org_installed_app": (
        400,
        "the app is installed for the whole Enterprise Grid organisation; install it per workspace instead",
    ),
}


class SlackInstallError(Exception):
    """The install could not be completed: `code` is stable for callers, `status` an HTTP status hint."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class InvalidStateError(SlackInstallError):
    """The `state` is malformed, tampered with, signed with another secret, or expired."""


class InstallDeniedError(SlackInstallError):
    """The admin cancelled on Slack's consent page (`?error=access_denied`)."""


@dataclass(frozen=True)
class SlackOAuthSettings:
    """What the two endpoints need, from the environment."""

    client_id: str
    client_secret: str
    redirect_uri: str
    state_secret: str
    scopes: tuple[str, ...] = READ_SCOPES
    api_base_url: str | None = None
    authorize_url: str = AUTHORIZE_URL
    state_ttl: timedelta = DEFAULT_STATE_TTL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackOAuthSettings:
        """The settings of the `slack` section (or of `env`, variables given by name, when passed).

        A missing one is a `SlackInstallError` (code `not_configured`) naming its variable.
        """
        return cls.from_settings(get_settings().slack if env is None else section_from_variables(SlackSettings, env))

    @classmethod
    def from_settings(cls, app: SlackSettings) -> SlackOAuthSettings:
        """The endpoints' settings from the Slack app's section of the settings tree."""
        client_secret = app.client_secret.get_secret_value() if app.client_secret else ""
        required = {CLIENT_ID_ENV: app.client_id, CLIENT_SECRET_ENV: client_secret, REDIRECT_URI_ENV: app.redirect_uri}
        missing = [name for name, value in required.items() if not value]
        if missing or not app.client_id or not app.redirect_uri:  # (the last two only narrow the types)
            raise SlackInstallError(
                "not_configured",
                f"Slack install is not configured: set {', '.join(missing)} (from the Slack app's Basic Information "
                "and OAuth & Permissions pages)",
                status=503,
            )
        # Without a dedicated secret, sign states with a key derived from the client secret.
        state_secret = (app.state_secret.get_secret_value() if app.state_secret else "") or hashlib.sha256(
            b"headway-slack-oauth-state:" + client_secret.encode()
        ).hexdigest()
        ttl_raw = app.state_ttl_seconds
        try:
            ttl = timedelta(seconds=int(ttl_raw)) if ttl_raw else DEFAULT_STATE_TTL
        except ValueError:
            raise SlackInstallError(
                "not_configured", f"{STATE_TTL_ENV} must be a whole number of seconds, got {ttl_raw!r}", status=503
            ) from None
        return cls(
            client_id=app.client_id,
            client_secret=client_secret,
            redirect_uri=app.redirect_uri,
            state_secret=state_secret,
            api_base_url=app.api_base_url or None,
            authorize_url=app.authorize_url or AUTHORIZE_URL,
            state_ttl=ttl,
        )


# -- state -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, signed: str) -> str:
    return _b64(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def sign_state(org_id: int, *, state_secret: str, now: datetime, ttl: timedelta = DEFAULT_STATE_TTL) -> str:
    """A signed state token for `org_id`, valid for `ttl` from `now`."""
    if not state_secret:
        raise SlackInstallError("not_configured", f"no state secret: set {STATE_SECRET_ENV}", status=503)
    payload = {
        "org": int(org_id),
        "nonce": secrets.token_urlsafe(16),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{STATE_VERSION}.{body}"
    return f"{signed}.{_signature(state_secret, signed)}"


def verify_state(state: str, *, state_secret: str, now: datetime) -> int:
    """The organisation id a state was issued for; `InvalidStateError` when it is forged, altered or expired."""
    restart = "start the Slack install again from Headway"
    parts = state.split(".") if isinstance(state, str) else []
    if len(parts) != 3 or parts[0] != STATE_VERSION:
        raise InvalidStateError("invalid_state", f"the install link's state is malformed; {restart}")
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(state_secret, signed), parts[2]):
        raise InvalidStateError(
            "invalid_state",
            f"the install link's state signature does not match (it was altered, or signed with another "
            f"{STATE_SECRET_ENV}); {restart}",
        )
    try:
        payload = json.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidStateError("invalid_state", f"the install link's state cannot be decoded; {restart}") from None
    org, expires = (payload.get("org"), payload.get("exp")) if isinstance(payload, dict) else (None, None)
    if not isinstance(org, int) or isinstance(org, bool) or not isinstance(expires, int):
        raise InvalidStateError("invalid_state", f"the install link's state lacks its organisation; {restart}")
    if now.timestamp() >= expires:
        raise InvalidStateError("expired_state", f"the install link expired; {restart}")
    return org


# -- the two steps -----------------------------------------------------------------------------


def build_install_url(
    org_id: int,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...] | list[str] = READ_SCOPES,
    state_secret: str,
    now: datetime,
    state_ttl: timedelta = DEFAULT_STATE_TTL,
    authorize_url: str = AUTHORIZE_URL,
    team: str | None = None,
) -> str:
    """The Slack consent-page URL for installing the app for organisation `org_id`.

    Scopes are bot scopes, comma-separated as Slack expects; `team` pre-selects a workspace.
    """
    generator = AuthorizeUrlGenerator(
        client_id=quote(client_id, safe=""),
        # The SDK pastes these in verbatim; encode them so a redirect URI with a query survives.
        redirect_uri=quote(redirect_uri, safe=""),
        scopes=list(scopes),
        user_scopes=[],
        authorization_url=authorize_url,
    )
    state = sign_state(org_id, state_secret=state_secret, now=now, ttl=state_ttl)
    return generator.generate(state=state, team=quote(team, safe="") if team else None)


def install_redirect_url(org_id: int, *, settings: SlackOAuthSettings, now: datetime) -> str:
    """`build_install_url` with the environment's settings (what the install endpoint calls)."""
    return build_install_url(
        org_id,
        client_id=settings.client_id,
        redirect_uri=settings.redirect_uri,
        scopes=settings.scopes,
        state_secret=settings.state_secret,
        now=now,
        state_ttl=settings.state_ttl,
        authorize_url=settings.authorize_url,
    )


def complete_install(
    conn: Connection,
    *,
    code: str | None,
    state: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    state_secret: str,
    now: datetime,
    base_url: str | None = None,
    error: str | None = None,
    connection_name: str = DEFAULT_CONNECTION_NAME,
    required_scopes: tuple[str, ...] = READ_SCOPES,
) -> int:
    """Finish the install from Slack's callback and return the Slack connection's id.

    Pass the callback's query parameters as they came: `code` and `state`, or `error` and
    `state` when the admin cancelled. `base_url` points the exchange (and later reads) at
    another Slack API root (a proxy or a test fake); it is stored in the connection's config.
    The caller commits `conn` (the connection and its encrypted credentials are written in it).
    """
    if error:
        # The state still tells whose install was cancelled; an invalid one is reported as such.
        org_id = verify_state(state, state_secret=state_secret, now=now)
        reason = "the install was cancelled on Slack's consent page" if error == "access_denied" else None
        raise InstallDeniedError(
            error if error == "access_denied" else "install_error",
            f"Slack did not install the app for organisation {org_id}: "
            f"{reason or 'Slack reported ' + repr(error[:80])}; start the install again and choose Allow",
            status=400,
        )
    org_id = verify_state(state, state_secret=state_secret, now=now)
    if not code:
        raise SlackInstallError("missing_code", "Slack's callback carried no code; start the Slack install again")
    org = conn.execute(select(Organization.id).where(Organization.id == org_id)).scalar_one_or_none()
    if org is None:
        raise SlackInstallError(
            "unknown_organization",
            f"organisation {org_id} from the install link does not exist (it was deleted?); "
            "start the install again from an existing organisation",
            status=404,
        )

    hidden = [client_secret, code]
    client = build_web_client(token=None, base_url=base_url, budget=RetryBudget(2), secrets=lambda: hidden)
    try:
        response = client.oauth_v2_access(
            client_id=client_id, client_secret=client_secret, code=code, redirect_uri=redirect_uri
        )
    except SlackApiError as exc:
        data = exc.response.data if exc.response is not None else None
        slack_code = str(data.get("error")) if isinstance(data, dict) and data.get("error") else "unknown_error"
        status_code = exc.response.status_code if exc.response is not None else 0
        if status_code == 200 and slack_code in EXCHANGE_ERRORS:
            status, advice = EXCHANGE_ERRORS[slack_code]
            raise SlackInstallError(
                slack_code, f"Slack install failed ({slack_code}): {advice}", status=status
            ) from None
        raise SlackInstallError(
            "slack_unavailable",
            redact(
                f"Slack could not complete the install (HTTP {status_code}, {slack_code[:120]}); "
                "start the Slack install again in a minute",
                hidden,
            ),
            status=502,
        ) from None
    except (json.JSONDecodeError, URLError, OSError, http.client.HTTPException) as exc:
        raise SlackInstallError(
            "slack_unavailable",
            f"Slack could not be reached to complete the install ({type(exc).__name__}); start it again in a minute",
            status=502,
        ) from None

    token = response.get("access_token")
    if response.get("token_type") != "bot" or not isinstance(token, str) or not token:
        raise SlackInstallError(
            "no_bot_token",
            "Slack's answer carried no bot token; make sure the Slack app has a bot user and bot scopes, "
            "then start the install again",
            status=502,
        )
    granted = tuple(s for s in str(response.get("scope") or "").split(",") if s)
    missing = [s for s in required_scopes if s not in granted]
    if missing:
        raise SlackInstallError(
            "missing_scopes",
            f"the Slack app was installed without the scopes {', '.join(missing)}; add them to the app's bot "
            "scopes and start the install again",
            status=400,
        )
    hidden.append(token)
    team_value = response.get("team")
    team: dict[str, Any] = team_value if isinstance(team_value, dict) else {}
    config: dict[str, Any] = {}
    existing = conn.execute(
        select(SourceConnection.config).where(
            SourceConnection.org_id == org_id,
            SourceConnection.source == SOURCE,
            SourceConnection.name == connection_name,
        )
    ).scalar_one_or_none()
    if existing:
        config.update(existing)  # keep the channel selection and other settings across reinstalls
    config.update(
        {
            "team_id": team.get("id"),
            "team_name": team.get("name"),
            "bot_user_id": response.get("bot_user_id"),
            "app_id": response.get("app_id"),
            "scopes": list(granted),
            "client_id": client_id,
            "installed_at": now.isoformat(),
        }
    )
    enterprise = response.get("enterprise")
    if isinstance(enterprise, dict) and enterprise.get("id"):
        config["enterprise_id"] = enterprise["id"]
    if base_url:
        config["base_url"] = base_url
    else:
        config.pop("base_url", None)
    workspace_url = _workspace_url(token, base_url, hidden)
    if workspace_url:
        config["workspace_url"] = workspace_url
    connection_id = upsert_connection(
        conn,
        org_id=org_id,
        source=SOURCE,
        name=connection_name,
        kind=ConnectionKind.API,
        config=config,
        is_active=True,
    )
    credentials: dict[str, Any] = {"bot_token": token}
    if response.get("refresh_token"):
        credentials["refresh_token"] = str(response["refresh_token"])
    expires_in = response.get("expires_in")
    if isinstance(expires_in, int) and not isinstance(expires_in, bool):
        credentials["expires_at"] = int(now.timestamp()) + expires_in
    store_credentials(conn, connection_id=connection_id, values=credentials)
    return connection_id


def complete_install_from_settings(
    conn: Connection,
    *,
    code: str | None,
    state: str,
    settings: SlackOAuthSettings,
    now: datetime,
    error: str | None = None,
) -> int:
    """`complete_install` with the environment's settings (what the callback endpoint calls)."""
    return complete_install(
        conn,
        code=code,
        state=state,
        error=error,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=settings.redirect_uri,
        state_secret=settings.state_secret,
        base_url=settings.api_base_url,
        now=now,
    )


def _workspace_url(token: str, base_url: str | None, hidden: list[str]) -> str | None:
    """The workspace's URL from `auth.test` (for message permalinks); None when Slack does not say."""
    client = build_web_client(
        token=token, base_url=base_url or DEFAULT_BASE_URL, budget=RetryBudget(2), secrets=lambda: hidden
    )
    try:
        url = client.auth_test().get("url")
    except (SlackApiError, json.JSONDecodeError, URLError, OSError, http.client.HTTPException) as exc:
        # Only permalinks need it; the install itself succeeded.
        logger.warning(
            "Slack auth.test after the install failed (%s); messages will have no permalinks", type(exc).__name__
        )
        return None
    return str(url).rstrip("/") if url else None
