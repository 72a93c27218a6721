"""Live Gmail reader: one mailbox's mail of a window through the Gmail API v1, over httpx.

How a window is read (vendor-apis.md §2):
- `users.getProfile` names the mailbox (the message channel) unless the connection's config
  sets `mailbox`;
- `users.messages.list` with `q="after:<epoch s> before:<epoch s> -in:chats"`, paged with
  `pageToken` until `nextPageToken` is missing (an empty page has no `messages` key). The
  query is one second wider than the window on each side, because whether Gmail's `after:`
  is inclusive is not documented; the exact cut is made on `internalDate`;
- `users.messages.get?format=full` for each id: the MIME tree (`payload`, base64url bodies) is
  rebuilt into an `email.message.Message` and parsed by the same `parse_email_message` /
  `build_gmail_message` the Takeout mbox reader uses, so both readers give the same
  external id (the RFC 822 Message-ID), text, subject, author and thread (the API's hex
  `threadId` is the mbox's `X-GM-THRID` in hex). `sent_at` is `internalDate` (when Google
  accepted the mail), the moment the window query selects on.

Credentials are `{access_token, refresh_token, expires_at, client_id?, client_secret?}`. An
expired (or missing) access token is refreshed before the first call, a 401 triggers one
refresh, and the new token is persisted through `request.save_credentials`. Client id and
secret come from the credentials or from GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET.

429, 403 `userRateLimitExceeded`/`rateLimitExceeded`, 5xx, transport errors and bodies that
are not JSON are retried with exponential backoff and jitter (`Retry-After` honoured when
sent), within a retry budget per read. When the budget or the daily quota runs out, what
arrived is returned with `complete=False` and a resume state (the next list page token,
the ids listed but not fetched, the ids already fetched); the cap (`max_messages`) stops a
read the same way. A message deleted between list and get (404) is a skipped item.

Connection config keys (all optional): `base_url`, `token_url`, `mailbox`,
`internal_domains`, `page_size` (1-500, default 100), `max_retries` (default 8),
`retry_base_delay_s` (default 1), `retry_max_delay_s` (default 32), `timeout_s` (default 30).
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any, ClassVar

import httpx

from headway_assets.core.credentials import redact
from headway_assets.core.message import ReadResult, SkippedItem, SourceReadError
from headway_assets.core.retry import RetryBudget, RetryPolicy, RetryRefusedError
from headway_assets.core.settings import get_settings
from headway_assets.sources.gmail import SOURCE
from headway_assets.sources.gmail.export import (
    build_gmail_message,
    effective_internal_domains,
    parse_email_message,
)
from headway_assets.sources.live.base import LiveReader, LiveReadRequest
from headway_assets.sources.live.config import config_domains, config_number, retry_after_seconds
from headway_assets.sources.people import normalise_email

DEFAULT_BASE_URL = "https://gmail.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
CLIENT_ID_ENV = "GOOGLE_CLIENT_ID"
CLIENT_SECRET_ENV = "GOOGLE_CLIENT_SECRET"
API_PREFIX = "/gmail/v1/users/me"

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
DEFAULT_MAX_RETRIES = 8
DEFAULT_RETRY_BASE_DELAY_S = 1.0
DEFAULT_RETRY_MAX_DELAY_S = 32.0
DEFAULT_TIMEOUT_S = 30.0
# Refresh a token this close to its expiry rather than have the call fail half-way.
TOKEN_EXPIRY_MARGIN_S = 60.0
RESUME_STATE_VERSION = 1

# Label ids whose messages are not conversations (the export reader skips the same kinds).
IGNORED_LABEL_IDS: dict[str, str] = {"CHAT": "chat", "SPAM": "spam", "TRASH": "trash"}
RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
QUOTA_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


class _RetryBudgetExhaustedError(Exception):
    """Rate limits or server errors outlasted the retry budget (or the daily quota is used up)."""


class _GmailApiError(Exception):
    """A non-retryable Gmail API error the caller decides about (404 on a message, 400 on a page token)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class GmailReadOptions:
    """The live Gmail settings of one connection (from its config)."""

    token_url: str = DEFAULT_TOKEN_URL
    mailbox: str | None = None
    internal_domains: tuple[str, ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_base_delay_s: float = DEFAULT_RETRY_BASE_DELAY_S
    retry_max_delay_s: float = DEFAULT_RETRY_MAX_DELAY_S
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, connection: str) -> GmailReadOptions:
        """Options from a connection config; a bad value is a `SourceReadError` naming the key."""

        def number(key: str, default: float, low: float, high: float | None = None) -> float:
            return config_number(config, key, default, connection=connection, minimum=low, maximum=high)

        mailbox = config.get("mailbox")
        return cls(
            token_url=str(config.get("token_url") or DEFAULT_TOKEN_URL),
            mailbox=normalise_email(str(mailbox)) if mailbox else None,
            internal_domains=config_domains(config, connection=connection),
            page_size=int(number("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)),
            max_retries=int(number("max_retries", DEFAULT_MAX_RETRIES, 0)),
            retry_base_delay_s=number("retry_base_delay_s", DEFAULT_RETRY_BASE_DELAY_S, 0),
            retry_max_delay_s=number("retry_max_delay_s", DEFAULT_RETRY_MAX_DELAY_S, 0),
            timeout_s=number("timeout_s", DEFAULT_TIMEOUT_S, 0.001),
        )


# ---------------------------------------------------------------------------------------------
# The Gmail API's MIME tree -> email.message.Message
# ---------------------------------------------------------------------------------------------


def decode_base64url(data: str) -> bytes:
    """Decode Gmail's base64url body data, with or without padding (raises ValueError when invalid)."""
    compact = "".join(data.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"body data is not valid base64url ({exc})") from None


def _reads_as_text(part: Message) -> bool:
    """Whether `parse_email_message` would read this leaf as body text (so its bytes are needed)."""
    if part.get_content_type() not in ("text/plain", "text/html"):
        return False
    return part.get_content_disposition() != "attachment"


def message_from_gmail_payload(
    part: Mapping[str, Any], *, fetch_attachment: Callable[[str], str] | None = None, where: str = "payload"
) -> Message:
    """Rebuild an `email.message.Message` from a `format=full` `MessagePart` tree.

    Headers are copied as Gmail sends them. Leaf bodies arrive decoded from their transfer
    encoding (base64url of the part's bytes), so each leaf is stored re-encoded as base64
    with a matching `Content-Transfer-Encoding`: the parser then sees exactly the bytes the
    sender's charset describes. A text part whose bytes Gmail left behind an `attachmentId`
    is fetched through `fetch_attachment`. Raises ValueError for a tree of the wrong shape.
    """
    if not isinstance(part, Mapping):
        raise ValueError(f"{where} is not an object")
    message = Message()
    headers = part.get("headers") or []
    if not isinstance(headers, list):
        raise ValueError(f"{where}.headers is not a list")
    for header in headers:
        if not isinstance(header, Mapping) or not isinstance(header.get("name"), str):
            raise ValueError(f"{where}.headers holds an entry without a name")
        message[header["name"]] = str(header.get("value") or "")
    mime_type = part.get("mimeType")
    if isinstance(mime_type, str) and mime_type and message.get("Content-Type") is None:
        message["Content-Type"] = mime_type
    children = part.get("parts")
    if children is not None and not isinstance(children, list):
        raise ValueError(f"{where}.parts is not a list")
    if children:
        message.set_payload(
            [
                message_from_gmail_payload(child, fetch_attachment=fetch_attachment, where=f"{where}.parts[{n}]")
                for n, child in enumerate(children)
            ]
        )
        return message
    body = part.get("body") or {}
    if not isinstance(body, Mapping):
        raise ValueError(f"{where}.body is not an object")
    data = body.get("data")
    attachment_id = body.get("attachmentId")
    if data is None and attachment_id and fetch_attachment is not None and _reads_as_text(message):
        data = fetch_attachment(str(attachment_id))
    if data is not None and not isinstance(data, str):
        raise ValueError(f"{where}.body.data is not a string")
    raw = decode_base64url(data) if data else b""
    del message["Content-Transfer-Encoding"]
    if raw:
        message["Content-Transfer-Encoding"] = "base64"
        message.set_payload(base64.encodebytes(raw).decode("ascii"))
    else:
        message.set_payload("")
    return message


# ---------------------------------------------------------------------------------------------
# HTTP: bearer auth, token refresh, retries
# ---------------------------------------------------------------------------------------------


def _google_error(response: httpx.Response) -> tuple[str, str]:
    """(`error.errors[0].reason`, `error.message`) of a Google JSON error body, as far as present."""
    try:
        body = response.json()
    except ValueError:
        return "", response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", response.reason_phrase
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    reason = str(first.get("reason") or error.get("status") or "")
    return reason, str(error.get("message") or response.reason_phrase)


def _expiry_seconds(value: Any) -> float | None:
    """`expires_at` as epoch seconds: a number, or an ISO 8601 string; None when unset or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _GmailSession:
    """One read's conversation with Google: bearer auth, token refresh and a shared retry budget."""

    def __init__(
        self,
        client: httpx.Client,
        request: LiveReadRequest,
        options: GmailReadOptions,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._label = request.connection.label
        self._save = request.save_credentials
        self._options = options
        self._sleep = sleep
        self._clock = clock
        self._credentials: dict[str, Any] = dict(request.credentials)
        self._secrets: set[str] = set(request.credentials.secret_values())
        app = get_settings().gmail
        for value in (app.client_id, app.client_secret.get_secret_value() if app.client_secret else None):
            if value:
                self._secrets.add(value)
        self._retry = RetryPolicy(
            budget=RetryBudget(options.max_retries),
            base_seconds=options.retry_base_delay_s,
            max_backoff_seconds=options.retry_max_delay_s,
            max_wait_seconds=options.retry_max_delay_s,
            sleep=sleep,
        )

    @property
    def secrets(self) -> list[str]:
        """Every secret this read has seen (credentials, refreshed tokens, client secret)."""
        return sorted(self._secrets)

    # -- tokens ----------------------------------------------------------------------------

    def _access_token(self) -> str:
        token = self._credentials.get("access_token")
        expires_at = _expiry_seconds(self._credentials.get("expires_at"))
        expiring = expires_at is not None and expires_at - TOKEN_EXPIRY_MARGIN_S <= self._clock()
        if not token or expiring:
            self._refresh(why="the access token has expired" if token else "there is no access token")
            token = self._credentials.get("access_token")
        return str(token)

    def _refresh(self, *, why: str) -> None:
        refresh_token = self._credentials.get("refresh_token")
        if not refresh_token:
            raise SourceReadError(
                f"Gmail connection {self._label}: {why} and the credentials hold no refresh token; "
                "reconnect Gmail (OAuth with access_type=offline) to grant access again"
            )
        app = get_settings().gmail
        client_id = self._credentials.get("client_id") or app.client_id
        client_secret = self._credentials.get("client_secret") or (
            app.client_secret.get_secret_value() if app.client_secret else None
        )
        if not client_id or not client_secret:
            raise SourceReadError(
                f"Gmail connection {self._label}: {why} and refreshing it needs the OAuth client id and secret; "
                f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (or client_id/client_secret in the credentials)"
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(refresh_token),
            "client_id": str(client_id),
            "client_secret": str(client_secret),
        }
        failures = 0
        while True:
            try:
                response = self._client.post(self._options.token_url, data=form)
            except httpx.TransportError as exc:
                self._backoff(failures, None, f"the token endpoint could not be reached ({type(exc).__name__})")
                failures += 1
                continue
            if response.status_code == 429 or response.status_code in RETRYABLE_STATUSES:
                retry_after = retry_after_seconds(
                    response.headers.get("Retry-After"), now=datetime.fromtimestamp(self._clock(), UTC)
                )
                self._backoff(failures, retry_after, f"the token endpoint answered HTTP {response.status_code}")
                failures += 1
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
                break
            if response.status_code == 200:
                self._backoff(failures, None, "the token endpoint sent a malformed answer")
                failures += 1
                continue
            raise SourceReadError(self._refresh_error(response.status_code, body))
        updated = dict(self._credentials)
        updated["access_token"] = body["access_token"]
        self._secrets.add(body["access_token"])
        try:
            updated["expires_at"] = int(self._clock() + float(body["expires_in"]))
        except (KeyError, TypeError, ValueError):
            updated.pop("expires_at", None)  # unknown lifetime: the next 401 refreshes it
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            updated["refresh_token"] = body["refresh_token"]  # Google may rotate it
            self._secrets.add(body["refresh_token"])
        self._credentials = updated
        if self._save is not None:
            self._save(dict(updated))

    def _refresh_error(self, status: int, body: Any) -> str:
        code = str(body.get("error") or "") if isinstance(body, dict) else ""
        if code == "invalid_grant":
            return (
                f"Gmail connection {self._label}: Google rejected the refresh token (invalid_grant: it was revoked "
                "or has expired); reconnect Gmail to grant Headway access again"
            )
        if code in ("invalid_client", "unauthorized_client"):
            return (
                f"Gmail connection {self._label}: Google rejected the OAuth client ({code}) while refreshing the "
                f"access token; check {CLIENT_ID_ENV}/{CLIENT_SECRET_ENV} (or the credentials' client_id/"
                "client_secret) and reconnect Gmail if the client changed"
            )
        return (
            f"Gmail connection {self._label}: refreshing the access token failed (HTTP {status}"
            f"{', ' + code if code else ''}); reconnect Gmail"
        )

    # -- calls -----------------------------------------------------------------------------

    def _retry_after(self, response: httpx.Response) -> float | None:
        return retry_after_seconds(response.headers.get("Retry-After"), now=datetime.fromtimestamp(self._clock(), UTC))

    def _backoff(self, failures: int, retry_after: float | None, what: str) -> None:
        """Sleep before the next attempt (the shared retry policy), or give up when the budget is spent."""
        try:
            self._retry.spend(failures, retry_after)
        except RetryRefusedError as exc:
            if exc.wait is None:
                raise _RetryBudgetExhaustedError(
                    f"{what}; the retry budget ({self._options.max_retries}) is spent"
                ) from None
            raise _RetryBudgetExhaustedError(
                f"{what}; Google asked to wait {exc.wait:.0f} s, longer than the "
                f"{self._options.retry_max_delay_s:.0f} s a sync waits"
            ) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a Gmail API path and return its JSON object, retrying what is worth retrying.

        Raises `_GmailApiError` for errors the caller decides about, `_RetryBudgetExhaustedError`
        when retries run out, and `SourceReadError` when the connection cannot be read at all.
        """
        failures = 0
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            try:
                response = self._client.get(path, params=params, headers=headers)
            except httpx.TransportError as exc:
                self._backoff(failures, None, f"Gmail could not be reached ({type(exc).__name__})")
                failures += 1
                continue
            status = response.status_code
            if status == 200:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    return body
                self._backoff(failures, None, "Gmail sent a body that is not a JSON object")
                failures += 1
                continue
            reason, message = _google_error(response)
            if status == 401:
                if refreshed:
                    raise SourceReadError(
                        f"Gmail connection {self._label}: Google rejected a freshly refreshed access token "
                        f"(HTTP 401 {reason}); reconnect Gmail"
                    )
                self._refresh(why="Google rejected the access token (HTTP 401)")
                refreshed = True
                continue
            retry_after = retry_after_seconds(
                response.headers.get("Retry-After"), now=datetime.fromtimestamp(self._clock(), UTC)
            )
            if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS) or status in RETRYABLE_STATUSES:
                self._backoff(failures, retry_after, f"Gmail answered HTTP {status} {reason}".rstrip())
                failures += 1
                continue
            if status == 403 and reason in QUOTA_REASONS:
                raise _RetryBudgetExhaustedError(f"Gmail's quota is used up ({reason}); the next sync continues")
            if status == 403:
                raise SourceReadError(
                    f"Gmail connection {self._label}: Google refused access (HTTP 403 {reason}: {message}); "
                    "reconnect Gmail granting the gmail.readonly scope, or ask the Workspace admin to allow the app"
                )
            raise _GmailApiError(status, reason or "error", message)


# ---------------------------------------------------------------------------------------------
# Resume state and the read itself
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Progress:
    """Where a window's read stands: the next list page, ids listed but not fetched, ids done."""

    page_token: str | None = None
    listed: bool = False
    pending: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    resumed_token: bool = False

    @classmethod
    def load(cls, state: Mapping[str, Any]) -> _Progress:
        """The progress a previous capped read saved; a fresh start when there is none (or it is unreadable)."""
        if not state or state.get("version") != RESUME_STATE_VERSION:
            return cls()
        token = state.get("page_token")
        pending = state.get("pending")
        done = state.get("done")
        if (
            (token is not None and not isinstance(token, str))
            or not isinstance(pending, list)
            or not isinstance(done, list)
            or not all(isinstance(i, str) for i in [*pending, *done])
        ):
            return cls()  # re-reading the window is safe: rows are keyed by Message-ID
        return cls(
            page_token=token,
            listed=bool(state.get("listed")),
            pending=list(pending),
            done=list(done),
            resumed_token=token is not None,
        )

    def dump(self) -> dict[str, Any]:
        """JSON-ready resume state."""
        return {
            "version": RESUME_STATE_VERSION,
            "page_token": self.page_token,
            "listed": self.listed,
            "pending": list(self.pending),
            "done": list(self.done),
        }

    @property
    def finished(self) -> bool:
        """Every page listed and every listed id fetched."""
        return self.listed and not self.pending


def window_query(start: datetime, end: datetime) -> str:
    """The `q` for a window: epoch seconds, one second wider on each side, chats excluded."""
    return f"after:{math.floor(start.timestamp()) - 1} before:{math.ceil(end.timestamp()) + 1} -in:chats"


class _WindowRead:
    """Reads one window of one mailbox, message by message, stopping at the cap or the retry budget."""

    def __init__(self, session: _GmailSession, request: LiveReadRequest, options: GmailReadOptions) -> None:
        self.session = session
        self.request = request
        self.options = options
        self.progress = _Progress.load(request.resume_state)
        self.result = ReadResult()
        self.seen: set[str] = set()
        self.mailbox: str | None = options.mailbox
        self.domains: tuple[str, ...] = ()
        self.progressed = False  # a message was fetched (or found gone) in this run

    def run(self) -> ReadResult:
        cap = self.request.max_messages
        stopped: str | None = None
        try:
            if self.mailbox is None:
                profile = self.session.get_json(f"{API_PREFIX}/profile")
                self.mailbox = normalise_email(str(profile.get("emailAddress") or "")) or None
            self.domains = effective_internal_domains(self.options.internal_domains, self.mailbox)
            while not self.progress.finished:
                if cap is not None and len(self.result.messages) >= cap:
                    stopped = "cap"
                    break
                if not self.progress.pending:
                    self._list_page()
                    continue
                message_id = self.progress.pending[0]
                self._fetch(message_id)
                self.progress.pending.pop(0)
                self.progress.done.append(message_id)
                self.progressed = True
        except _RetryBudgetExhaustedError as exc:
            if not self.progressed:
                raise SourceReadError(
                    f"Gmail connection {self.request.connection.label}: nothing could be read: {exc}; "
                    "the next sync tries again"
                ) from None
            stopped = str(exc)
        self.result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
        if stopped is not None and not self.progress.finished:
            self.result.complete = False
            self.result.resume_state = self.progress.dump()
        return self.result

    def _list_page(self) -> None:
        window = self.request.window
        params: dict[str, Any] = {"q": window_query(window.start, window.end), "maxResults": self.options.page_size}
        if self.progress.page_token:
            params["pageToken"] = self.progress.page_token
        try:
            page = self.session.get_json(f"{API_PREFIX}/messages", params)
        except _GmailApiError as exc:
            if exc.status == 400 and self.progress.resumed_token:
                # A saved page token can expire between runs: list again from the top; ids
                # already fetched are recognised and not fetched twice.
                self.progress.page_token = None
                self.progress.resumed_token = False
                return
            raise SourceReadError(
                f"Gmail connection {self.request.connection.label}: listing messages failed ({exc}); "
                "check the connection's base_url and credentials"
            ) from None
        self.progress.resumed_token = False
        items = page.get("messages", [])  # Gmail leaves the key out when nothing matches
        token = page.get("nextPageToken")
        if not isinstance(items, list) or (token is not None and not isinstance(token, str)):
            raise SourceReadError(
                f"Gmail connection {self.request.connection.label}: users.messages.list answered in an unexpected "
                "shape ('messages' must be a list, 'nextPageToken' a string); check the connection's base_url"
            )
        known = set(self.progress.done) | set(self.progress.pending)
        for item in items:
            message_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(message_id, str) or not message_id:
                self.result.skip(f"messages.list item {item!r}"[:200], "list item without a message id")
                continue
            if message_id not in known:
                known.add(message_id)
                self.progress.pending.append(message_id)
        self.progress.page_token = token or None
        self.progress.listed = not token

    def _fetch(self, message_id: str) -> None:
        location = f"message {message_id}"
        path = f"{API_PREFIX}/messages/{message_id}"
        try:
            data = self.session.get_json(path, {"format": "full"})
        except _GmailApiError as exc:
            if exc.status == 404:
                self.result.skip(location, "the message no longer exists (deleted between listing and fetching)")
                return
            self.result.skip(location, f"Gmail refused the message ({exc})")
            return
        labels = [str(label) for label in data.get("labelIds") or [] if isinstance(label, str)]
        ignored = next((IGNORED_LABEL_IDS[label] for label in labels if label in IGNORED_LABEL_IDS), None)
        internal_date = data.get("internalDate")
        try:
            sent_at = datetime.fromtimestamp(int(str(internal_date)) / 1000, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            self.result.skip(location, f"internalDate {internal_date!r} is not epoch milliseconds")
            return
        if not self.request.window.contains(sent_at):
            return  # the query is a second wider than the window; this mail belongs to a neighbour
        if ignored:
            self.result.ignored[ignored] = self.result.ignored.get(ignored, 0) + 1
            return

        def fetch_attachment(attachment_id: str) -> str:
            body = self.session.get_json(f"{path}/attachments/{attachment_id}")
            value = body.get("data")
            if not isinstance(value, str):
                raise ValueError(f"attachment {attachment_id} has no data")
            return value

        payload = data.get("payload")
        if not isinstance(payload, Mapping):
            self.result.skip(location, "the message came without a MIME tree ('payload' missing)")
            return
        try:
            email_message = message_from_gmail_payload(payload, fetch_attachment=fetch_attachment)
        except _GmailApiError as exc:
            self.result.skip(location, f"a body part could not be fetched ({exc})")
            return
        except ValueError as exc:
            self.result.skip(location, f"the message's MIME tree could not be read ({exc})")
            return
        try:
            parsed = parse_email_message(email_message)
        except Exception as exc:  # any parser failure is this one message's problem, not the mailbox's
            self.result.skip(location, f"message could not be parsed ({type(exc).__name__}: {exc})")
            return
        if parsed.message_id:
            location = f"{location} <{parsed.message_id}>"
        if not parsed.full_text.strip():
            detail = "; ".join(parsed.problems) if parsed.problems else "no text/plain or text/html part"
            self.result.skip(location, f"no readable text body ({detail})")
            return
        if not parsed.text.strip():
            self.result.skip(location, "text is empty after removing quoted replies and signature")
            return
        thread_id = data.get("threadId")
        extra: dict[str, Any] = {"gmail_id": message_id}
        if parsed.date is not None and parsed.date != sent_at:
            extra["date_header"] = parsed.date.isoformat()
        message = build_gmail_message(
            parsed,
            sent_at=sent_at,
            channel=self.mailbox or parsed.delivered_to,
            internal_domains=self.domains,
            thread_id=thread_id if isinstance(thread_id, str) and thread_id else None,
            labels=labels,
            extra_metadata=extra,
        )
        if message.external_id in self.seen:
            self.result.ignored["duplicate"] = self.result.ignored.get("duplicate", 0) + 1
            return
        self.seen.add(message.external_id)
        self.result.messages.append(message)


class GmailLiveReader(LiveReader):
    """Reads a Gmail mailbox's window through the Gmail API (see the module docstring)."""

    source: ClassVar[str] = SOURCE

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self._sleep = sleep
        self._clock = clock

    def read(self, request: LiveReadRequest) -> ReadResult:
        """Fetch the window's mail (contract: `headway_assets.sources.live.base`)."""
        label = request.connection.label
        secrets = request.credentials.secret_values()
        options = GmailReadOptions.from_config(request.connection.config, connection=label)
        session: _GmailSession | None = None
        try:
            with httpx.Client(base_url=request.base_url or DEFAULT_BASE_URL, timeout=options.timeout_s) as client:
                session = _GmailSession(client, request, options, sleep=self._sleep, clock=self._clock)
                result = _WindowRead(session, request, options).run()
                # Skip reasons quote Google's error messages: keep them secret-free whatever Google says.
                result.skipped = [
                    SkippedItem(redact(item.location, session.secrets), redact(item.reason, session.secrets))
                    for item in result.skipped
                ]
                return result
        except SourceReadError as error:
            raise SourceReadError(redact(str(error), session.secrets if session else secrets)) from None
        except httpx.HTTPError as error:  # transport errors are retried inside; this is the rest
            raise SourceReadError(
                redact(
                    f"Gmail connection {label}: the HTTP client failed ({type(error).__name__}: {error}); check the "
                    "connection's base_url and token_url",
                    session.secrets if session else secrets,
                )
            ) from None
        except _GmailApiError as error:
            raise SourceReadError(
                redact(
                    f"Gmail connection {label}: the Gmail API answered {error}; check the connection and reconnect "
                    "Gmail if the problem persists",
                    session.secrets if session else secrets,
                )
            ) from None
