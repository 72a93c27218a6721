"""A local fake of the Slack Web API, serving one demo workspace (vendor-apis.md §1).

It behaves like Slack where slack-sdk's `WebClient` can tell the difference:

- `POST /api/<method>` with a form body (what slack-sdk sends), or a JSON body, or `GET` with
  query parameters; the bearer token in `Authorization` (or a `token` argument);
- errors are HTTP 200 with `{"ok": false, "error": "<code>"}`: `not_authed`, `invalid_auth`,
  `token_revoked`, `token_expired`, `account_inactive`, `not_in_channel`, `channel_not_found`,
  `thread_not_found`, `user_not_found`, `invalid_cursor`, `invalid_ts_oldest`/`_latest`, ...;
- the only non-200 answers are injected faults: HTTP 429 with an integer `Retry-After` and
  `{"ok": false, "error": "ratelimited"}`, 5xx, and malformed (non-JSON) bodies;
- `conversations.history` returns top-level messages newest first, filtered by `oldest` /
  `latest` / `inclusive`, `limit` per page, `response_metadata.next_cursor` and `has_more`
  kept consistent; `conversations.replies` returns the parent first, then the thread's
  replies in the range oldest first; `conversations.list`, `conversations.info`,
  `conversations.members` and `users.info` serve the workspace's channels and members;
- `oauth.v2.access` exchanges registered codes (Basic auth or form client credentials,
  redirect URI check, single use) and rotates refresh tokens;
- `chat.postMessage` (JSON body, as slack-sdk sends it) posts `text` and Block Kit `blocks` to
  a channel the bot is in and answers `{"ok": true, "channel", "ts", "message"}`; it refuses
  like Slack: `channel_not_found` (unknown or `remove_channel`-ed), `not_in_channel`,
  `is_archived`, `no_text`, `invalid_blocks`, `msg_too_long`. Posts land in `posted`.

Every request is recorded (`requests`) for assertions. Faults are queued per method with
`fail()` and consumed in order, one per request.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from headway_assets.demo import SlackWorkspace
from headway_assets.testing.fakes._http import BackgroundHTTPServer, HttpReply, HttpRequest

API_PREFIX = "/api/"
HISTORY_DEFAULT_LIMIT = 100
HISTORY_MAX_LIMIT = 999
REPLIES_DEFAULT_LIMIT = 1000
LIST_DEFAULT_LIMIT = 100
ROTATION_EXPIRES_IN = 43200
DEFAULT_SCOPES = "channels:history,channels:read,groups:history,groups:read,users:read,users:read.email"
MAX_POST_TEXT = 40_000
MAX_BLOCKS = 50
# Slack's limits of the text fields it checks (a header's plain text, a section's text).
BLOCK_TEXT_LIMITS = {"header": 150, "section": 3000}
# Methods that need no bearer token.
NO_TOKEN_METHODS = frozenset({"oauth.v2.access", "api.test"})


@dataclass(frozen=True)
class SlackRequest:
    """One API call as the fake saw it."""

    method: str
    http_method: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int
    error: str | None


@dataclass
class Fault:
    """One injected failure: `kind` is "ratelimit", "server_error", "malformed" or "pass".

    "pass" is a placeholder that lets one request through (how `fail(after=n)` delays faults);
    `echo_auth` puts the request's Authorization header into the body (a misbehaving proxy).
    """

    kind: str
    status: int = 200
    retry_after: str | None = "0"
    body: bytes = b""
    echo_auth: bool = False


@dataclass
class OAuthGrant:
    """A code Slack would hand to the callback, and what exchanging it yields."""

    redirect_uri: str | None
    scopes: str = DEFAULT_SCOPES
    rotation: bool = False
    used: bool = False


@dataclass
class _TokenInfo:
    status: str = "valid"  # valid | revoked | expired | inactive
    refresh_token: str | None = None


class FakeSlackServer(BackgroundHTTPServer):
    """The fake Slack Web API for one workspace; use as a context manager (`with FakeSlackServer(ws) as s`).

    `page_size` caps every history/replies page below what the client asked for (Slack "may
    return fewer"); `member_channels` are the channels the bot is in (default: all).
    """

    def __init__(
        self,
        workspace: SlackWorkspace,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        client_id: str = "1111.2222",
        client_secret: str = "fake-client-secret",
        app_id: str = "A0HEADWAY1",
        bot_user_id: str = "U0HEADWAY1",
        bot_id: str = "B0HEADWAY1",
        page_size: int | None = None,
        member_channels: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.bot_token = bot_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.page_size = page_size
        self.member_channels: set[str] = (
            set(member_channels) if member_channels is not None else {c["id"] for c in workspace.channels}
        )
        self.requests: list[SlackRequest] = []
        # Every access and refresh token the OAuth endpoint handed out (for secret-leak checks).
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._tokens: dict[str, _TokenInfo] = {bot_token: _TokenInfo()}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> the access token it renews
        self._faults: dict[str, deque[Fault]] = {}
        self._codes: dict[str, OAuthGrant] = {}
        self._users = {u["id"]: u for u in workspace.users}
        # Messages chat.postMessage accepted, in order: {"channel", "ts", "text", "blocks"}.
        self.posted: list[dict[str, Any]] = []
        self._removed_channels: set[str] = set()
        self._ts_counter = 0

    # -- test controls -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The base URL to give `WebClient` (with the `/api/` path and trailing slash)."""
        return f"{self.url}{API_PREFIX}"

    def fail(
        self,
        method: str,
        kind: str,
        *,
        times: int = 1,
        after: int = 0,
        status: int | None = None,
        **options: Any,
    ) -> None:
        """Queue `times` failures of `kind` for `method`, starting after `after` more requests succeed.

        kinds: "ratelimit" (429, `retry_after` integer seconds as a string, or None for no
        header), "server_error" (`status`, default 500), "malformed" (HTTP 200 with `body`,
        default an HTML page). `echo_auth=True` makes a server error or malformed body quote the
        request's Authorization header, as a misbehaving proxy might.
        """
        if kind == "ratelimit":
            fault = Fault("ratelimit", status or 429, retry_after=options.get("retry_after", "0"))
        elif kind == "server_error":
            fault = Fault(
                "server_error",
                status or 500,
                body=options.get("body", b"upstream connect error"),
                echo_auth=bool(options.get("echo_auth")),
            )
        elif kind == "malformed":
            fault = Fault(
                "malformed",
                status or 200,
                body=options.get("body", b"<html><body>Bad gateway</body></html>"),
                echo_auth=bool(options.get("echo_auth")),
            )
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend(Fault("pass") for _ in range(after))
            queue.extend(
                Fault(fault.kind, fault.status, fault.retry_after, fault.body, fault.echo_auth) for _ in range(times)
            )

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def add_token(self, token: str) -> None:
        """Accept another bot token for this workspace."""
        with self._lock:
            self._tokens[token] = _TokenInfo()

    def revoke(self, token: str) -> None:
        """Make `token` answer `token_revoked` (the app was uninstalled)."""
        with self._lock:
            self._tokens.setdefault(token, _TokenInfo()).status = "revoked"

    def expire(self, token: str) -> None:
        """Make `token` answer `token_expired` (a rotating token past its lifetime)."""
        with self._lock:
            self._tokens.setdefault(token, _TokenInfo()).status = "expired"

    def deactivate(self, token: str) -> None:
        """Make `token` answer `account_inactive` (the bot user was deactivated)."""
        with self._lock:
            self._tokens.setdefault(token, _TokenInfo()).status = "inactive"

    def remove_channel(self, channel_id: str) -> None:
        """Make `channel_id` answer `channel_not_found` (the channel was deleted)."""
        with self._lock:
            self._removed_channels.add(channel_id)

    def add_refresh_token(self, refresh_token: str, access_token: str) -> None:
        """Accept `refresh_token` for rotating `access_token`."""
        with self._lock:
            self._refresh_tokens[refresh_token] = access_token

    def register_code(
        self, code: str, *, redirect_uri: str | None, rotation: bool = False, scopes: str = DEFAULT_SCOPES
    ) -> None:
        """A code the user's browser brings back from Slack's consent page."""
        with self._lock:
            self._codes[code] = OAuthGrant(redirect_uri=redirect_uri, scopes=scopes, rotation=rotation)

    def calls(self, method: str) -> list[SlackRequest]:
        """The recorded requests of one method, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == method]

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Answer one HTTP request like slack.com/api would."""
        if not request.path.startswith(API_PREFIX):
            return HttpReply(404, b"Not Found", {"content-type": "text/plain"})
        method = request.path[len(API_PREFIX) :]
        if request.method not in ("GET", "POST"):
            return self._record(method, request, {}, HttpReply(405, b"", {"allow": "GET, POST"}), "method_not_allowed")
        params = _parameters(request)
        if params is None:
            return self._record(method, request, {}, _error("invalid_form_data"), "invalid_form_data")
        with self._lock:
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.kind != "pass":
            return self._record(method, request, params, _fault_reply(fault, request), fault.kind)
        if method not in NO_TOKEN_METHODS:
            token_error = self._token_error(request, params)
            if token_error is not None:
                return self._record(method, request, params, _error(token_error), token_error)
        handler = {
            "auth.test": self._auth_test,
            "api.test": lambda p: {"ok": True, "args": p},
            "conversations.list": self._conversations_list,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "chat.postMessage": self._chat_post_message,
            "oauth.v2.access": lambda p: self._oauth_v2_access(p, request),
        }.get(method)
        payload = handler(params) if handler else {"ok": False, "error": "unknown_method"}
        reply = HttpReply(200, json.dumps(payload).encode(), {"content-type": "application/json; charset=utf-8"})
        return self._record(method, request, params, reply, None if payload.get("ok") else str(payload.get("error")))

    def _record(
        self, method: str, request: HttpRequest, params: dict[str, str], reply: HttpReply, error: str | None
    ) -> HttpReply:
        with self._lock:
            self.requests.append(
                SlackRequest(method, request.method, params, dict(request.headers), reply.status, error)
            )
        return reply

    def _token_error(self, request: HttpRequest, params: dict[str, str]) -> str | None:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else params.get("token", "")
        if not token:
            return "not_authed"
        with self._lock:
            info = self._tokens.get(token)
        if info is None:
            return "invalid_auth"
        return {"valid": None, "revoked": "token_revoked", "expired": "token_expired", "inactive": "account_inactive"}[
            info.status
        ]

    # -- methods -----------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, str]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.workspace.url.rstrip("/") + "/",
            "team": self.workspace.team_name,
            "user": "headway",
            "team_id": self.workspace.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _channel_object(self, channel: dict[str, Any]) -> dict[str, Any]:
        return {**channel, "is_member": channel["id"] in self.member_channels}

    def _find_channel(self, channel_id: str) -> dict[str, Any] | None:
        if channel_id in self._removed_channels:
            return None
        return next((c for c in self.workspace.channels if c["id"] == channel_id), None)

    def _conversations_list(self, params: dict[str, str]) -> dict[str, Any]:
        types = set((params.get("types") or "public_channel").split(","))
        unknown = types - {"public_channel", "private_channel", "mpim", "im"}
        if unknown:
            return {"ok": False, "error": "invalid_types"}
        exclude_archived = params.get("exclude_archived") in ("1", "true")
        channels = [
            self._channel_object(c)
            for c in self.workspace.channels
            if _channel_type(c) in types and not (exclude_archived and c.get("is_archived"))
        ]
        page = _page(channels, params, key=lambda c: c["id"], default_limit=LIST_DEFAULT_LIMIT, max_limit=1000)
        if isinstance(page, str):
            return {"ok": False, "error": page}
        items, cursor = page
        return {"ok": True, "channels": items, "response_metadata": {"next_cursor": cursor}}

    def _conversations_info(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._find_channel(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel_object(channel)}

    def _conversations_members(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._find_channel(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        members = list(self.workspace.members.get(channel["id"], []))
        page = _page(members, params, key=lambda m: m, default_limit=LIST_DEFAULT_LIMIT, max_limit=1000)
        if isinstance(page, str):
            return {"ok": False, "error": page}
        items, cursor = page
        return {"ok": True, "members": items, "response_metadata": {"next_cursor": cursor}}

    def _readable_channel(self, params: dict[str, str]) -> tuple[str | None, str | None]:
        channel_id = params.get("channel", "")
        if not channel_id:
            return None, "channel_not_found"
        if self._find_channel(channel_id) is None:
            return None, "channel_not_found"
        if channel_id not in self.member_channels:
            return None, "not_in_channel"
        return channel_id, None

    def _conversations_history(self, params: dict[str, str]) -> dict[str, Any]:
        channel_id, error = self._readable_channel(params)
        if error is not None or channel_id is None:
            return {"ok": False, "error": error}
        bounds = _bounds(params)
        if isinstance(bounds, str):
            return {"ok": False, "error": bounds}
        newest_first = sorted(self.workspace.top_level(channel_id), key=lambda m: _ts_key(m["ts"]), reverse=True)
        selected = [m for m in newest_first if bounds.admits(m["ts"])]
        page = _page(
            selected,
            params,
            key=lambda m: m["ts"],
            default_limit=HISTORY_DEFAULT_LIMIT,
            max_limit=HISTORY_MAX_LIMIT,
            cap=self.page_size,
        )
        if isinstance(page, str):
            return {"ok": False, "error": page}
        items, cursor = page
        return {
            "ok": True,
            "messages": items,
            "has_more": bool(cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, params: dict[str, str]) -> dict[str, Any]:
        channel_id, error = self._readable_channel(params)
        if error is not None or channel_id is None:
            return {"ok": False, "error": error}
        ts = params.get("ts", "")
        if not ts:
            return {"ok": False, "error": "invalid_arguments"}
        threads = self.workspace.replies.get(channel_id, {})
        parent_ts = ts if any(m["ts"] == ts for m in self.workspace.top_level(channel_id)) else None
        if parent_ts is None:
            # `ts` may name a reply: Slack then answers with its whole thread.
            parent_ts = next((p for p, replies in threads.items() if any(r["ts"] == ts for r in replies)), None)
        if parent_ts is None:
            return {"ok": False, "error": "thread_not_found"}
        bounds = _bounds(params)
        if isinstance(bounds, str):
            return {"ok": False, "error": bounds}
        thread = self.workspace.thread(channel_id, parent_ts)
        parent, replies = thread[0], [r for r in thread[1:] if bounds.admits(r["ts"])]
        page = _page(
            replies,
            params,
            key=lambda m: m["ts"],
            default_limit=REPLIES_DEFAULT_LIMIT,
            max_limit=1000,
            cap=self.page_size,
        )
        if isinstance(page, str):
            return {"ok": False, "error": page}
        items, cursor = page
        if not params.get("cursor"):
            items = [parent, *items]  # the parent leads the first page (vendor-apis.md §1.4)
        return {
            "ok": True,
            "messages": items,
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _chat_post_message(self, params: dict[str, str]) -> dict[str, Any]:
        channel_id, error = self._readable_channel(params)
        if error is not None or channel_id is None:
            return {"ok": False, "error": error or "channel_not_found"}
        channel = self._find_channel(channel_id) or {}
        if channel.get("is_archived"):
            return {"ok": False, "error": "is_archived"}
        text = params.get("text", "")
        blocks: list[Any] = []
        if params.get("blocks"):
            try:
                blocks = json.loads(params["blocks"])
            except ValueError:
                return {"ok": False, "error": "invalid_blocks"}
            if not _valid_blocks(blocks):
                return {"ok": False, "error": "invalid_blocks"}
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(text) > MAX_POST_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        with self._lock:
            self._ts_counter += 1
            ts = f"{1_700_000_000 + self._ts_counter}.{self._ts_counter:06d}"
            message = {"channel": channel_id, "ts": ts, "text": text, "blocks": blocks}
            self.posted.append(message)
        body = {"type": "message", "subtype": "bot_message", "text": text, "ts": ts, "bot_id": self.bot_id}
        return {"ok": True, "channel": channel_id, "ts": ts, "message": body | ({"blocks": blocks} if blocks else {})}

    def _users_info(self, params: dict[str, str]) -> dict[str, Any]:
        user = self._users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _oauth_v2_access(self, params: dict[str, str], request: HttpRequest) -> dict[str, Any]:
        client_id, client_secret = _client_credentials(request, params)
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant_type = params.get("grant_type")
        if grant_type == "refresh_token":
            return self._rotate(params.get("refresh_token", ""))
        if grant_type not in (None, "", "authorization_code"):
            return {"ok": False, "error": "invalid_grant_type"}
        code = params.get("code", "")
        with self._lock:
            grant = self._codes.get(code)
            if grant is None or grant.used:
                return {"ok": False, "error": "invalid_code"}
            if grant.redirect_uri is not None and params.get("redirect_uri") != grant.redirect_uri:
                return {"ok": False, "error": "bad_redirect_uri"}
            grant.used = True
            token = f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(12)}"
            self._tokens[token] = _TokenInfo()
            self.issued.append(token)
        response: dict[str, Any] = {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": {"id": "U0INSTALL1"},
            "access_token": token,
            "token_type": "bot",
            "scope": grant.scopes,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.workspace.team_id, "name": self.workspace.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if grant.rotation:
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self.add_refresh_token(refresh, token)
            self.issued.append(refresh)
            response["refresh_token"] = refresh
            response["expires_in"] = ROTATION_EXPIRES_IN
        return response

    def _rotate(self, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            old_access = self._refresh_tokens.pop(refresh_token, None)
            if old_access is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            if old_access in self._tokens:
                self._tokens[old_access].status = "expired"
            token = f"xoxe.xoxb-{secrets.token_hex(6)}-{secrets.token_hex(12)}"
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self._tokens[token] = _TokenInfo()
            self._refresh_tokens[refresh] = token
            self.issued += [token, refresh]
        return {
            "ok": True,
            "app_id": self.app_id,
            "access_token": token,
            "token_type": "bot",
            "scope": DEFAULT_SCOPES,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.workspace.team_id, "name": self.workspace.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
            "refresh_token": refresh,
            "expires_in": ROTATION_EXPIRES_IN,
        }


# -- helpers ---------------------------------------------------------------------------------


def _parameters(request: HttpRequest) -> dict[str, str] | None:
    """Query string plus form or JSON body, as Slack merges them; None when the body is unreadable."""
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    if not request.body:
        return params
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            data = json.loads(request.body)
            if not isinstance(data, dict):
                return None
            params.update({k: _as_form_value(v) for k, v in data.items()})
        else:
            params.update(dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)))
    except (ValueError, UnicodeDecodeError):
        return None
    return params


def _as_form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else json.dumps(value)


def _client_credentials(request: HttpRequest, params: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[len("Basic ") :], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return params.get("client_id", ""), params.get("client_secret", "")


def _valid_blocks(blocks: Any) -> bool:
    """Whether `blocks` is a Block Kit list Slack would take: typed blocks, texts within their limits."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS:
        return False
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return False
        text = block.get("text")
        limit = BLOCK_TEXT_LIMITS.get(block["type"])
        if limit is not None:
            if not isinstance(text, dict) or not isinstance(text.get("text"), str) or not text["text"]:
                return False
            if len(text["text"]) > limit or (block["type"] == "header" and text.get("type") != "plain_text"):
                return False
        if block["type"] == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements or any("type" not in e for e in elements):
                return False
    return True


def _error(code: str) -> HttpReply:
    return HttpReply(200, json.dumps({"ok": False, "error": code}).encode(), {"content-type": "application/json"})


def _fault_reply(fault: Fault, request: HttpRequest) -> HttpReply:
    if fault.kind == "ratelimit":
        headers = {"content-type": "application/json"}
        if fault.retry_after is not None:
            headers["retry-after"] = fault.retry_after
        return HttpReply(fault.status, b'{"ok":false,"error":"ratelimited"}', headers)
    body = fault.body
    if fault.echo_auth:
        body = b"proxy refused " + request.headers.get("authorization", "").encode() + b" " + body
    return HttpReply(fault.status, body, {"content-type": "text/html"})


def _channel_type(channel: dict[str, Any]) -> str:
    if channel.get("is_im"):
        return "im"
    if channel.get("is_mpim"):
        return "mpim"
    if channel.get("is_private") or channel.get("is_group"):
        return "private_channel"
    return "public_channel"


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6] or 0)


def _parse_ts(value: str) -> tuple[int, int] | None:
    try:
        seconds, _, micros = value.partition(".")
        if not seconds.isdigit() or (micros and not micros.isdigit()):
            return None
        return int(seconds), int(micros.ljust(6, "0")[:6] or 0)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Bounds:
    oldest: tuple[int, int]
    latest: tuple[int, int] | None
    inclusive: bool

    def admits(self, ts: str) -> bool:
        key = _ts_key(ts)
        if self.inclusive:
            return key >= self.oldest and (self.latest is None or key <= self.latest)
        return key > self.oldest and (self.latest is None or key < self.latest)


def _bounds(params: dict[str, str]) -> _Bounds | str:
    oldest = _parse_ts(params.get("oldest") or "0")
    if oldest is None:
        return "invalid_ts_oldest"
    latest_raw = params.get("latest")
    latest = _parse_ts(latest_raw) if latest_raw else None
    if latest_raw and latest is None:
        return "invalid_ts_latest"
    return _Bounds(oldest, latest, params.get("inclusive") in ("1", "true"))


def _encode_cursor(key: str) -> str:
    return base64.b64encode(f"next_ts:{key}".encode()).decode()


def _decode_cursor(cursor: str) -> str | None:
    try:
        decoded = base64.b64decode(cursor, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded[len("next_ts:") :] if decoded.startswith("next_ts:") else None


def _page(
    items: list[Any],
    params: dict[str, str],
    *,
    key: Any,
    default_limit: int,
    max_limit: int,
    cap: int | None = None,
) -> tuple[list[Any], str] | str:
    """One page of `items` from the cursor on, and the next cursor ("" at the end); or an error code."""
    raw_limit = params.get("limit")
    try:
        limit = int(raw_limit) if raw_limit else default_limit
    except ValueError:
        return "invalid_limit"
    if limit < 1:
        return "invalid_limit"
    limit = min(limit, max_limit, cap or max_limit)
    start = 0
    cursor = params.get("cursor")
    if cursor:
        position = _decode_cursor(cursor)
        keys = [key(item) for item in items]
        if position is None or position not in keys:
            return "invalid_cursor"
        start = keys.index(position)
    chunk = items[start : start + limit]
    following = items[start + limit : start + limit + 1]
    return chunk, _encode_cursor(key(following[0])) if following else ""
