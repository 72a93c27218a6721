"""A local fake of the Gmail API v1 and Google's OAuth token endpoint, serving demo-corpus mail.

    account = FakeGmailAccount.from_mailbox(corpus.org("acme").gmail)
    with FakeGmailServer([account]) as server:
        httpx.get(server.url + "/gmail/v1/users/me/messages",
                  headers={"Authorization": f"Bearer {account.access_token}"})

What it serves (vendor-apis.md §2, §5):
- `GET /gmail/v1/users/{userId}/messages`: `q` subset (`after:`/`before:` with epoch seconds
  or `YYYY/MM/DD` (UTC here; Gmail uses the account's zone), `in:chats`/`-in:chats`, free text
  is rejected with 400 so a client bug cannot hide), repeated `labelIds` (a message must have
  all), `includeSpamTrash` (default false), `maxResults` (default 100, capped at 500),
  `pageToken`/`nextPageToken`, `resultSizeEstimate`; newest first; **no `messages` key** when
  nothing matches; a page token from another query, or an expired one, is a 400.
- `GET /gmail/v1/users/{userId}/messages/{id}?format=full|raw|metadata|minimal`: `full` is the
  MIME tree parsed from the RFC 822 bytes (`partId` "", "0", "0.1", ...; unfolded headers;
  base64url `body.data` of the transfer-decoded bytes; `attachmentId` instead of data for
  parts with a file name or an attachment disposition, and for bodies over `inline_body_limit`);
  `raw` is base64url RFC 822; `internalDate`/`historyId` are strings, `sizeEstimate` a number.
- `GET /gmail/v1/users/{userId}/messages/{id}/attachments/{attachmentId}` -> `{size, data}`.
- `GET /gmail/v1/users/{userId}/profile`.
- `POST /token` (form-encoded, `grant_type=refresh_token`): a known refresh token with the
  right client id/secret gets a new access token with `expires_in`; a revoked one gets 400
  `invalid_grant`; a wrong client 401 `invalid_client`.
Errors are Google JSON envelopes (`error.code/message/errors[0].reason/status`): 401 authError
for a missing, unknown, expired or revoked token; 403/429/5xx/404 from scripted faults.

The access token picks the account (several mailboxes behind one base URL, like Gmail's
`me`). Faults (`add_fault`) are matched per endpoint (and optionally per message id) in
order, each `times` times: any status with a Google error body, `Retry-After`, or a 200
whose body is not JSON. Every request is recorded (`requests`) with the bearer token
reduced to the account it belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import Any
from urllib.parse import parse_qs, unquote

from headway_assets.demo import GmailMailbox, GmailMessage

from ._http import BackgroundHTTPServer, HttpReply, HttpRequest

DEFAULT_CLIENT_ID = "123456789012-fakeclient.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "GOCSPX-fake-client-secret"
GMAIL_READONLY_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
DEFAULT_EXPIRES_IN = 3599
SNIPPET_CHARS = 200
FORMATS = ("full", "raw", "metadata", "minimal")

# Google's status name and default (domain, reason, message) per HTTP status.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("global", "badRequest", "Bad Request"),
    401: ("global", "authError", "Invalid Credentials"),
    403: ("usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded"),
    404: ("global", "notFound", "Requested entity was not found."),
    429: ("usageLimits", "rateLimitExceeded", "Too many concurrent requests for user"),
    500: ("global", "backendError", "Backend Error"),
    502: ("global", "backendError", "Bad Gateway"),
    503: ("global", "backendError", "The service is currently unavailable."),
    504: ("global", "backendError", "Deadline exceeded"),
}
_REASON_MESSAGES = {
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "dailyLimitExceeded": ("usageLimits", "Daily Limit Exceeded"),
    "domainPolicy": ("global", "The domain administrators have disabled Gmail apps."),
    "insufficientPermissions": ("global", "Insufficient Permission"),
}
_DATE_OPERAND = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")
_PATH = re.compile(r"^/gmail/v1/users/(?P<user>[^/]+)/(?P<rest>.+)$")


def google_error_body(status: int, *, reason: str | None = None, message: str | None = None) -> bytes:
    """A Google JSON error envelope (vendor-apis.md §2.4)."""
    domain, default_reason, default_message = _DEFAULT_ERRORS.get(status, ("global", "error", "Error"))
    if reason and reason in _REASON_MESSAGES:
        domain, default_message = _REASON_MESSAGES[reason]
    reason = reason or default_reason
    message = message or default_message
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if status == 401:
        item.update(locationType="header", location="Authorization")
    body = {"error": {"code": status, "message": message, "errors": [item], "status": _STATUS_NAMES.get(status, "")}}
    return json.dumps(body).encode()


def b64url(data: bytes, *, pad: bool = True) -> str:
    """URL-safe base64, with or without `=` padding."""
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def _unfold(value: str) -> str:
    """A header value as one line; raw 8-bit bytes read as UTF-8 (what Gmail shows)."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"\r?\n(?=[ \t])", "", value)


@dataclass
class FakeGmailMessage:
    """One message the fake serves: the API ids, labels, internal date and RFC 822 bytes."""

    id: str
    thread_id: str
    label_ids: list[str]
    internal_date_ms: int
    raw: bytes
    history_id: int = 0

    @classmethod
    def from_demo(cls, message: GmailMessage, history_id: int = 0) -> FakeGmailMessage:
        """The fake's form of a demo-corpus message (hex ids, label ids, epoch ms)."""
        return cls(
            id=message.api_id,
            thread_id=message.api_thread_id,
            label_ids=list(message.label_ids),
            internal_date_ms=message.internal_date_ms,
            raw=message.raw,
            history_id=history_id,
        )


@dataclass
class FakeGmailAccount:
    """A mailbox behind the fake, with the OAuth tokens that open it."""

    address: str
    messages: list[FakeGmailMessage]
    access_token: str = "ya29.fake-access-token"
    refresh_token: str = "1//fake-refresh-token"

    @classmethod
    def from_mailbox(
        cls, mailbox: GmailMailbox, *, access_token: str | None = None, refresh_token: str | None = None
    ) -> FakeGmailAccount:
        """An account serving a demo-corpus mailbox; tokens default to ones derived from the address."""
        local = mailbox.address.split("@", 1)[1].split(".", 1)[0]
        return cls(
            address=mailbox.address,
            messages=[FakeGmailMessage.from_demo(m, 1_000_000 + 17 * n) for n, m in enumerate(mailbox.messages)],
            access_token=access_token or f"ya29.fake-{local}-access",
            refresh_token=refresh_token or f"1//fake-{local}-refresh",
        )


@dataclass
class GmailFault:
    """A scripted failure: `endpoint` is list, get, attachment, profile or token.

    `status` with a Google error body (`reason` picks the `errors[0].reason`), or `malformed`
    for a 200 whose body is not JSON. `retry_after` adds the header. `message_id` limits a get
    or attachment fault to one message. Applied `times` times (None: every time).
    """

    endpoint: str
    status: int = 503
    reason: str | None = None
    times: int | None = 1
    retry_after: str | None = None
    malformed: bool = False
    message_id: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it (no credentials: the token is reduced to its account)."""

    endpoint: str
    method: str
    path: str
    params: dict[str, list[str]]
    account: str | None
    status: int
    fault: bool


@dataclass
class _Parsed:
    payload: dict[str, Any]
    snippet: str
    attachments: dict[str, bytes] = field(default_factory=dict)


class FakeGmailServer(BackgroundHTTPServer):
    """The fake Gmail API + OAuth token endpoint (see the module docstring)."""

    def __init__(
        self,
        accounts: Iterable[FakeGmailAccount],
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        max_page_size: int = MAX_PAGE_SIZE,
        inline_body_limit: int | None = None,
        pad_base64: bool = True,
        expires_in: int = DEFAULT_EXPIRES_IN,
    ) -> None:
        super().__init__()
        self.accounts = {a.address: a for a in accounts}
        self.client_id = client_id
        self.client_secret = client_secret
        self.max_page_size = max_page_size
        self.inline_body_limit = inline_body_limit
        self.pad_base64 = pad_base64
        self.expires_in = expires_in
        self.requests: list[RecordedRequest] = []
        self.issued_tokens: list[str] = []
        self._lock = threading.Lock()
        self._faults: list[GmailFault] = []
        self._access: dict[str, str] = {a.access_token: a.address for a in self.accounts.values()}
        self._refresh: dict[str, str] = {a.refresh_token: a.address for a in self.accounts.values()}
        self._revoked: set[str] = set()
        self._page_tokens: dict[str, tuple[str, tuple[Any, ...], int]] = {}
        self._vanished: set[str] = set()
        self._relabelled: dict[str, list[str]] = {}
        self._parsed: dict[tuple[str, str], _Parsed] = {}
        self._token_counter = 0

    # -- test controls -----------------------------------------------------------------------

    def add_fault(self, fault: GmailFault) -> None:
        """Script a failure (see `GmailFault`)."""
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget every scripted fault."""
        with self._lock:
            self._faults.clear()

    def revoke_access_token(self, token: str) -> None:
        """Make an access token invalid (expired or revoked): calls with it get 401 authError."""
        with self._lock:
            self._revoked.add(token)

    def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token: refreshing with it gets 400 invalid_grant."""
        with self._lock:
            self._revoked.add(token)

    def vanish(self, message_id: str) -> None:
        """The message stays in listings but a get answers 404 (deleted between list and get)."""
        with self._lock:
            self._vanished.add(message_id)

    def relabel(self, message_id: str, label_ids: list[str]) -> None:
        """A get shows these labels (moved to spam/trash after it was listed)."""
        with self._lock:
            self._relabelled[message_id] = list(label_ids)

    def expire_page_tokens(self) -> None:
        """Forget every page token handed out (they expired)."""
        with self._lock:
            self._page_tokens.clear()

    def calls(self, endpoint: str, *, status: int | None = None) -> int:
        """How many requests hit `endpoint` (optionally only those answered with `status`)."""
        return sum(1 for r in self.requests if r.endpoint == endpoint and (status is None or r.status == status))

    def token_url(self) -> str:
        """The OAuth token endpoint's URL."""
        return f"{self.url}/token"

    # -- dispatch --------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Route one request, apply faults and record it."""
        params = parse_qs(request.query, keep_blank_values=True)
        endpoint, account, reply, fault_applied = self._route(request, params)
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    endpoint=endpoint,
                    method=request.method,
                    path=request.path,
                    params=params,
                    account=account,
                    status=reply.status,
                    fault=fault_applied,
                )
            )
        return reply

    def _route(self, request: HttpRequest, params: dict[str, list[str]]) -> tuple[str, str | None, HttpReply, bool]:
        if request.path == "/token":
            if request.method != "POST":
                return "token", None, _json(405, {"error": "invalid_request"}), False
            fault = self._take_fault("token", None)
            if fault is not None:
                return "token", None, self._fault_reply(fault), True
            return "token", None, self._token(request), False
        match = _PATH.match(request.path)
        if match is None or request.method != "GET":
            return (
                "unknown",
                None,
                HttpReply(404, b"<html><body>Not Found</body></html>", {"content-type": "text/html"}),
                False,
            )
        rest = match.group("rest")
        parts = rest.split("/")
        if rest == "profile":
            endpoint, message_id = "profile", None
        elif rest == "messages":
            endpoint, message_id = "list", None
        elif len(parts) == 2 and parts[0] == "messages":
            endpoint, message_id = "get", parts[1]
        elif len(parts) == 4 and parts[0] == "messages" and parts[2] == "attachments":
            endpoint, message_id = "attachment", parts[1]
        else:
            return (
                "unknown",
                None,
                HttpReply(404, b"<html><body>Not Found</body></html>", {"content-type": "text/html"}),
                False,
            )
        account, denied = self._authenticate(request)
        if denied is not None:
            return endpoint, None, denied, False
        assert account is not None
        user = unquote(match.group("user"))
        if user not in ("me", account.address):
            return (
                endpoint,
                account.address,
                _error(403, reason="forbidden", message=f"Delegation denied for {account.address}"),
                False,
            )
        fault = self._take_fault(endpoint, message_id)
        if fault is not None:
            return endpoint, account.address, self._fault_reply(fault), True
        if endpoint == "profile":
            reply = self._profile(account)
        elif endpoint == "list":
            reply = self._list(account, params)
        elif endpoint == "get":
            assert message_id is not None
            reply = self._get(account, message_id, params)
        else:
            assert message_id is not None
            reply = self._attachment(account, message_id, parts[3])
        return endpoint, account.address, reply, False

    def _authenticate(self, request: HttpRequest) -> tuple[FakeGmailAccount | None, HttpReply | None]:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None, _error(
                401, reason="required", message="Request is missing required authentication credential."
            )
        token = header[len("Bearer ") :].strip()
        with self._lock:
            address = self._access.get(token)
            revoked = token in self._revoked
        if address is None or revoked:
            return None, _error(401)
        return self.accounts[address], None

    def _take_fault(self, endpoint: str, message_id: str | None) -> GmailFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint != endpoint or (fault.message_id and fault.message_id != message_id):
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                return fault
        return None

    def _fault_reply(self, fault: GmailFault) -> HttpReply:
        headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
        if fault.malformed:
            return HttpReply(200, b'{"messages": [{"id": "18f2a9c3', headers)
        if fault.endpoint == "token":
            return HttpReply(fault.status, json.dumps({"error": fault.reason or "internal_failure"}).encode(), headers)
        return HttpReply(fault.status, google_error_body(fault.status, reason=fault.reason), headers)

    # -- OAuth -----------------------------------------------------------------------------

    def _token(self, request: HttpRequest) -> HttpReply:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return _json(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        if form.get("client_id") != self.client_id:
            return _json(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if form.get("client_secret") != self.client_secret:
            return _json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        refresh_token = form.get("refresh_token", "")
        with self._lock:
            address = self._refresh.get(refresh_token)
            if address is None or refresh_token in self._revoked:
                return _json(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            self._token_counter += 1
            token = f"ya29.fake-refreshed-{self._token_counter}-{hashlib.sha1(address.encode()).hexdigest()[:8]}"
            self._access[token] = address
            self.issued_tokens.append(token)
        return _json(
            200,
            {
                "access_token": token,
                "expires_in": self.expires_in,
                "scope": GMAIL_READONLY_SCOPE,
                "token_type": "Bearer",
            },
        )

    # -- Gmail -----------------------------------------------------------------------------

    def _profile(self, account: FakeGmailAccount) -> HttpReply:
        return _json(
            200,
            {
                "emailAddress": account.address,
                "messagesTotal": len(account.messages),
                "threadsTotal": len({m.thread_id for m in account.messages}),
                "historyId": str(max((m.history_id for m in account.messages), default=1)),
            },
        )

    def _list(self, account: FakeGmailAccount, params: dict[str, list[str]]) -> HttpReply:
        query = params.get("q", [""])[-1]
        try:
            matches = _compile_query(query)
        except ValueError as exc:
            return _error(400, reason="invalidArgument", message=f"Invalid query: {exc}")
        label_ids = params.get("labelIds", [])
        include_spam_trash = params.get("includeSpamTrash", ["false"])[-1].lower() == "true"
        try:
            page_size = int(params.get("maxResults", [str(DEFAULT_PAGE_SIZE)])[-1])
        except ValueError:
            return _error(400, reason="invalidArgument", message="Invalid value for maxResults")
        if page_size < 1:
            return _error(400, reason="invalidArgument", message="Invalid value for maxResults")
        page_size = min(page_size, MAX_PAGE_SIZE, self.max_page_size)
        selected = [
            m
            for m in account.messages
            if matches(m)
            and all(label in m.label_ids for label in label_ids)
            and (include_spam_trash or not ({"SPAM", "TRASH"} & set(m.label_ids)))
        ]
        selected.sort(key=lambda m: (m.internal_date_ms, int(m.id, 16)), reverse=True)
        key = (account.address, query, tuple(label_ids), include_spam_trash)
        offset = 0
        token = params.get("pageToken", [""])[-1]
        if token:
            with self._lock:
                saved = self._page_tokens.get(token)
            if saved is None or saved[:2] != (account.address, key):
                return _error(400, reason="invalidArgument", message="Invalid pageToken")
            offset = saved[2]
        page = selected[offset : offset + page_size]
        body: dict[str, Any] = {"resultSizeEstimate": len(selected)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + page_size < len(selected):
            next_token = f"{int(hashlib.sha1(repr((key, offset)).encode()).hexdigest()[:12], 16):020d}"
            with self._lock:
                self._page_tokens[next_token] = (account.address, key, offset + page_size)
            body["nextPageToken"] = next_token
        return _json(200, body)

    def _find(self, account: FakeGmailAccount, message_id: str) -> FakeGmailMessage | None:
        with self._lock:
            if message_id in self._vanished:
                return None
        return next((m for m in account.messages if m.id == message_id), None)

    def _get(self, account: FakeGmailAccount, message_id: str, params: dict[str, list[str]]) -> HttpReply:
        message = self._find(account, message_id)
        if message is None:
            return _error(404)
        fmt = params.get("format", ["full"])[-1]
        if fmt not in FORMATS:
            return _error(400, reason="invalidArgument", message=f"Invalid value at 'format' ({fmt})")
        with self._lock:
            labels = self._relabelled.get(message_id, message.label_ids)
        parsed = self._parse(account, message)
        body: dict[str, Any] = {
            "id": message.id,
            "threadId": message.thread_id,
            "labelIds": list(labels),
            "snippet": parsed.snippet,
            "sizeEstimate": len(message.raw),
            "historyId": str(message.history_id),
            "internalDate": str(message.internal_date_ms),
        }
        if fmt == "full":
            body["payload"] = parsed.payload
        elif fmt == "raw":
            body["raw"] = b64url(message.raw, pad=self.pad_base64)
        elif fmt == "metadata":
            wanted = {h.lower() for h in params.get("metadataHeaders", [])}
            headers = parsed.payload["headers"]
            body["payload"] = {
                "partId": "",
                "mimeType": parsed.payload["mimeType"],
                "filename": "",
                "headers": [h for h in headers if not wanted or h["name"].lower() in wanted],
                "body": {"size": 0},
            }
        return _json(200, body)

    def _attachment(self, account: FakeGmailAccount, message_id: str, attachment_id: str) -> HttpReply:
        message = self._find(account, message_id)
        if message is None:
            return _error(404)
        data = self._parse(account, message).attachments.get(attachment_id)
        if data is None:
            return _error(400, reason="invalidArgument", message="Invalid attachment token")
        return _json(200, {"size": len(data), "data": b64url(data, pad=self.pad_base64)})

    def _parse(self, account: FakeGmailAccount, message: FakeGmailMessage) -> _Parsed:
        key = (account.address, message.id)
        with self._lock:
            cached = self._parsed.get(key)
        if cached is not None:
            return cached
        email_message = message_from_bytes(message.raw, policy=compat32)
        parsed = _Parsed(payload={}, snippet="")
        parsed.payload = self._part(email_message, "", message.id, parsed)
        with self._lock:
            self._parsed[key] = parsed
        return parsed

    def _part(self, part: Message, part_id: str, message_id: str, parsed: _Parsed) -> dict[str, Any]:
        try:
            filename = part.get_filename() or ""
        except (ValueError, LookupError, UnicodeError):
            filename = ""
        node: dict[str, Any] = {
            "partId": part_id,
            "mimeType": part.get_content_type(),
            "filename": filename,
            "headers": [{"name": name, "value": _unfold(str(value))} for name, value in part.items()],
        }
        if part.is_multipart():
            node["body"] = {"size": 0}
            children = [c for c in part.get_payload() if isinstance(c, Message)]
            node["parts"] = [
                self._part(child, f"{part_id}.{n}" if part_id else str(n), message_id, parsed)
                for n, child in enumerate(children)
            ]
            return node
        decoded = part.get_payload(decode=True)
        data = decoded if isinstance(decoded, bytes) else b""
        if not parsed.snippet and part.get_content_type() == "text/plain" and data:
            text = " ".join(data.decode(part.get_content_charset() or "utf-8", "replace").split())
            parsed.snippet = html.escape(text[:SNIPPET_CHARS], quote=True)
        behind_id = filename or part.get_content_disposition() == "attachment"
        if behind_id or (self.inline_body_limit is not None and len(data) > self.inline_body_limit):
            attachment_id = "ANGjdJ" + b64url(hashlib.sha256(f"{message_id}:{part_id}".encode()).digest(), pad=False)
            parsed.attachments[attachment_id] = data
            node["body"] = {"attachmentId": attachment_id, "size": len(data)}
        elif data:
            node["body"] = {"size": len(data), "data": b64url(data, pad=self.pad_base64)}
        else:
            node["body"] = {"size": 0}
        return node


# -- query and replies -------------------------------------------------------------------------


def _epoch_ms(operand: str) -> int:
    if operand.isdigit():
        return int(operand) * 1000
    match = _DATE_OPERAND.match(operand)
    if match is None:
        raise ValueError(f"cannot read date {operand!r} (use epoch seconds or YYYY/MM/DD)")
    year, month, day = (int(g) for g in match.groups())
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


def _compile_query(query: str) -> Callable[[FakeGmailMessage], bool]:
    """A predicate for the supported `q` subset; raises ValueError for anything else."""
    after: int | None = None
    before: int | None = None
    chats: bool | None = None
    for term in query.split():
        lowered = term.lower()
        if lowered.startswith("after:"):
            after = _epoch_ms(term[len("after:") :])
        elif lowered.startswith("before:"):
            before = _epoch_ms(term[len("before:") :])
        elif lowered == "-in:chats":
            chats = False
        elif lowered == "in:chats":
            chats = True
        else:
            raise ValueError(f"the fake supports after:, before:, in:chats and -in:chats, not {term!r}")

    def matches(message: FakeGmailMessage) -> bool:
        if after is not None and message.internal_date_ms < after:
            return False
        if before is not None and message.internal_date_ms >= before:
            return False
        is_chat = "CHAT" in message.label_ids
        return chats is None or chats == is_chat

    return matches


def _json(status: int, body: Any) -> HttpReply:
    return HttpReply(status, json.dumps(body).encode())


def _error(status: int, *, reason: str | None = None, message: str | None = None) -> HttpReply:
    return HttpReply(status, google_error_body(status, reason=reason, message=message))
