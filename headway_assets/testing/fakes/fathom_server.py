"""A local fake of the Fathom External API (vendor-apis.md §4), plus a Standard Webhooks sender.

    with FakeFathomServer(corpus.org("acme").fathom.meetings, page_size=2) as fathom:
        reader reads from fathom.url with X-Api-Key fathom.api_key

What it serves, as the real API does:
- `GET /meetings`: `created_after` / `created_before` (ISO, strict bounds on `created_at`),
  `include_transcript` / `include_summary` / `include_action_items` / `include_crm_matches` /
  `include_highlights` (the fields are null unless asked), `calendar_invitees_domains[]`,
  `calendar_invitees_domains_type`, `recorded_by[]`, `teams[]` (repeated keys), `cursor`,
  `limit`; newest meetings first; `{"limit", "next_cursor", "items"}` with `next_cursor` null at
  the end (or blank / missing: `end_cursor`). A cursor only works with the query it came from
  (other parameters changed → 400), like an offset cursor should.
- `GET /recordings/{id}/transcript` → `{"transcript": [...]}`; 404 for unknown recordings.
- `POST /oauth2/token` (refresh_token grant) for the OAuth path.
- Auth: `X-Api-Key` (API key) or `Authorization: Bearer` (OAuth; then `include_transcript=true`
  is refused with 400, since Fathom does not offer it to OAuth apps). 401 otherwise or after
  `revoke()`.
- `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` on every answer.

Faults are rules (`add_fault`) matched per request in order, each with an endpoint
(`meetings`, `transcript` or None for any), an optional budget (`times`) and a number of
matching requests to let through first (`skip`, counted over every matching request, whether
or not an earlier rule answered it): 429 with `RateLimit-*` and an optional
`Retry-After`, 5xx, malformed JSON, a wrong-shaped body, 401, 400, a dropped connection.
Every request is recorded (`requests`) with credentials redacted.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx

from ._http import BackgroundHTTPServer, HttpReply, HttpRequest

DEFAULT_API_KEY = "fathom-fake-api-key-0001"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
RATE_LIMIT = 60
RATE_WINDOW_S = 60.0
REDACTED = "[redacted]"
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})
INCLUDE_FLAGS: dict[str, tuple[str, ...]] = {
    "include_transcript": ("transcript",),
    "include_summary": ("default_summary",),
    "include_action_items": ("action_items",),
    "include_crm_matches": ("crm_matches",),
    "include_highlights": ("highlights",),
}
LIST_PARAMS = frozenset(
    {
        "cursor",
        "limit",
        "created_after",
        "created_before",
        "calendar_invitees_domains[]",
        "calendar_invitees_domains_type",
        "recorded_by[]",
        "teams[]",
        "meeting_type",
        *INCLUDE_FLAGS,
    }
)
_TRANSCRIPT_PATH = re.compile(r"^/recordings/(\d+)/transcript$")

Endpoint = Literal["meetings", "transcript", "token"]
EndCursor = Literal["null", "blank", "missing"]


@dataclass(frozen=True)
class FathomFault:
    """One injected failure; build it with the class methods."""

    kind: Literal["rate_limit", "server_error", "malformed", "wrong_shape", "unauthorized", "bad_request", "drop"]
    status: int = 200
    retry_after: str | None = None
    reset_seconds: int = 0

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 0, reset_seconds: int = 0) -> FathomFault:
        """HTTP 429 with `RateLimit-Remaining: 0`, `RateLimit-Reset` and (unless None) `Retry-After`."""
        value = None if retry_after is None else str(retry_after)
        return cls("rate_limit", status=429, retry_after=value, reset_seconds=reset_seconds)

    @classmethod
    def server_error(cls, status: int = 500) -> FathomFault:
        """HTTP 5xx with a short text body."""
        if not 500 <= status <= 599:
            raise ValueError(f"server_error needs a 5xx status, got {status}")
        return cls("server_error", status=status)

    @classmethod
    def malformed(cls) -> FathomFault:
        """HTTP 200 whose body is not JSON (cut off half-way)."""
        return cls("malformed")

    @classmethod
    def wrong_shape(cls) -> FathomFault:
        """HTTP 200 with valid JSON that is not a meetings page (no `items`)."""
        return cls("wrong_shape")

    @classmethod
    def unauthorized(cls) -> FathomFault:
        """HTTP 401, as for a revoked key."""
        return cls("unauthorized", status=401)

    @classmethod
    def bad_request(cls) -> FathomFault:
        """HTTP 400, as for an expired cursor."""
        return cls("bad_request", status=400)

    @classmethod
    def drop(cls) -> FathomFault:
        """Close the connection without answering."""
        return cls("drop")


@dataclass
class _FaultRule:
    fault: FathomFault
    endpoint: Endpoint | None
    times: int | None
    skip: int
    when: Callable[[HttpRequest], bool] | None
    matched: int = 0
    applied: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered (credentials redacted)."""

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    fault: str | None
    auth: Literal["api_key", "bearer", "none"]


def parse_time(value: str) -> datetime:
    """An ISO timestamp (with `Z` or an offset) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class FakeFathomServer(BackgroundHTTPServer):
    """The Fathom External API over one account's meetings (see the module docstring)."""

    def __init__(
        self,
        meetings: Iterable[Mapping[str, Any]],
        *,
        api_key: str | None = DEFAULT_API_KEY,
        access_tokens: Iterable[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
        end_cursor: EndCursor = "null",
        withhold_transcripts: Iterable[int] = (),
        missing_transcripts: Iterable[int] = (),
        echo_credentials_in_errors: bool = False,
        oauth_refresh_tokens: Mapping[str, str] | None = None,
        oauth_client: tuple[str, str] | None = None,
    ) -> None:
        """`withhold_transcripts`: recording ids whose transcript `/meetings` lists as null (but
        `/recordings/{id}/transcript` serves); `missing_transcripts`: ids with no transcript at all.
        `echo_credentials_in_errors` makes error bodies repeat the presented credential, as a
        careless server might (to prove the client redacts). `oauth_refresh_tokens` maps a valid
        refresh token to the access token the token endpoint issues for it."""
        super().__init__()
        self._meetings = [copy.deepcopy(dict(m)) for m in meetings]
        self.api_key = api_key
        self._access_tokens = set(access_tokens)
        self.page_size = page_size
        self.end_cursor = end_cursor
        self.withheld = {int(r) for r in withhold_transcripts}
        self.missing = {int(r) for r in missing_transcripts}
        self.echo_credentials_in_errors = echo_credentials_in_errors
        self._refresh_tokens = dict(oauth_refresh_tokens or {})
        self._oauth_client = oauth_client
        self.revoked = False
        self._rules: list[_FaultRule] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._window_started = time.monotonic()
        self._window_calls = 0

    # -- set-up ------------------------------------------------------------------------------------------

    def add_fault(
        self,
        fault: FathomFault,
        *,
        endpoint: Endpoint | None = "meetings",
        times: int | None = 1,
        skip: int = 0,
        when: Callable[[HttpRequest], bool] | None = None,
    ) -> None:
        """Answer matching requests with `fault`: after `skip` of them, `times` times (None = always)."""
        with self._lock:
            self._rules.append(_FaultRule(fault, endpoint, times, skip, when))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self._rules.clear()

    def revoke(self) -> None:
        """Reject every credential from now on (401)."""
        self.revoked = True

    def add_meeting(self, meeting: Mapping[str, Any]) -> None:
        """A meeting that appears (for example while a capped sync is half-way)."""
        with self._lock:
            self._meetings.append(copy.deepcopy(dict(meeting)))

    @property
    def meetings(self) -> list[dict[str, Any]]:
        """A copy of every meeting the account has."""
        with self._lock:
            return copy.deepcopy(self._meetings)

    # -- recorded traffic ---------------------------------------------------------------------------------

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        """Recorded requests whose path starts with `path_prefix`."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -- serving ------------------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Route one request."""
        params = parse_qs(request.query, keep_blank_values=True)
        endpoint: Endpoint | None
        if request.path == "/meetings":
            endpoint = "meetings"
        elif _TRANSCRIPT_PATH.match(request.path):
            endpoint = "transcript"
        elif request.path == "/oauth2/token":
            endpoint = "token"
        else:
            endpoint = None
        auth = self._auth_kind(request)
        fault = self._take_fault(endpoint, request)
        if fault is not None:
            reply = self._fault_reply(fault, request)
        elif endpoint == "token":
            reply = self._token(request)
        elif endpoint is None:
            reply = _json(404, {"error": "Not found"})
        elif request.method != "GET":
            reply = _json(405, {"error": "Method not allowed"})
        elif auth is None or self.revoked:
            reply = self._unauthorized()
        elif endpoint == "meetings":
            reply = self._list_meetings(params, bearer=auth == "bearer")
        else:
            match = _TRANSCRIPT_PATH.match(request.path)
            assert match is not None
            reply = self._transcript(int(match.group(1)), params)
        if not reply.drop:
            reply.headers.update(self._rate_headers(fault))
            if self.echo_credentials_in_errors and reply.status >= 400:
                # Up front, where a client quoting the start of an error body would pick it up.
                reply.body = f"[credential {self._presented_credential(request)}] ".encode() + reply.body
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    params={k: list(v) for k, v in params.items()},
                    headers={k: (REDACTED if k in CREDENTIAL_HEADERS else v) for k, v in request.headers.items()},
                    status=0 if reply.drop else reply.status,
                    fault=fault.kind if fault else None,
                    auth=auth or "none",
                )
            )
        return reply

    def _auth_kind(self, request: HttpRequest) -> Literal["api_key", "bearer"] | None:
        key = request.headers.get("x-api-key")
        if key is not None:
            return "api_key" if self.api_key is not None and hmac.compare_digest(key, self.api_key) else None
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer ") and authorization[7:] in self._access_tokens:
            return "bearer"
        return None

    def _take_fault(self, endpoint: Endpoint | None, request: HttpRequest) -> FathomFault | None:
        """The first eligible rule's fault. Every rule counts every request it matches (even one
        another rule answered), so `skip=N` means "from the (N+1)-th matching request on"."""
        chosen: _FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.endpoint is not None and rule.endpoint != endpoint:
                    continue
                if rule.when is not None and not rule.when(request):
                    continue
                rule.matched += 1
                exhausted = rule.times is not None and rule.applied >= rule.times
                if chosen is None and not exhausted and rule.matched > rule.skip:
                    chosen = rule
            if chosen is None:
                return None
            chosen.applied += 1
            return chosen.fault

    def _rate_headers(self, fault: FathomFault | None) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            if now - self._window_started >= RATE_WINDOW_S:
                self._window_started, self._window_calls = now, 0
            self._window_calls += 1
            reset = max(0, int(RATE_WINDOW_S - (now - self._window_started)))
            remaining = max(0, RATE_LIMIT - self._window_calls)
        if fault is not None and fault.kind == "rate_limit":
            headers = {
                "RateLimit-Limit": str(RATE_LIMIT),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(fault.reset_seconds),
            }
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return headers
        return {
            "RateLimit-Limit": str(RATE_LIMIT),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
        }

    def _presented_credential(self, request: HttpRequest) -> str:
        return request.headers.get("x-api-key") or request.headers.get("authorization", "")

    def _unauthorized(self) -> HttpReply:
        return _json(401, {"error": "Unauthorized", "message": "Invalid or revoked credentials"})

    def _fault_reply(self, fault: FathomFault, request: HttpRequest) -> HttpReply:
        if fault.kind == "drop":
            return HttpReply(0, drop=True)
        if fault.kind == "rate_limit":
            return _json(429, {"error": "Too Many Requests", "message": "Rate limit exceeded"})
        if fault.kind == "server_error":
            return HttpReply(fault.status, b"upstream error", {"content-type": "text/plain"})
        if fault.kind == "malformed":
            return HttpReply(200, b'{"limit": 10, "next_cursor": null, "items": [{"title": "Wee')
        if fault.kind == "wrong_shape":
            return _json(200, {"data": [], "message": "ok"})
        if fault.kind == "unauthorized":
            return self._unauthorized()
        return _json(400, {"error": "Bad Request", "message": "invalid cursor"})

    # -- /meetings -----------------------------------------------------------------------------------------

    def _list_meetings(self, params: dict[str, list[str]], *, bearer: bool) -> HttpReply:
        unknown = sorted(set(params) - LIST_PARAMS)
        if unknown:
            return _bad_request(f"unknown query parameter(s): {', '.join(unknown)}")
        flags: dict[str, bool] = {}
        for flag in INCLUDE_FLAGS:
            value = _single(params, flag)
            if value is not None and value not in ("true", "false"):
                return _bad_request(f"{flag} must be true or false")
            flags[flag] = value == "true"
        if bearer and flags["include_transcript"]:
            return _bad_request("include_transcript is not available to OAuth applications")
        try:
            after = _optional_time(_single(params, "created_after"))
            before = _optional_time(_single(params, "created_before"))
        except ValueError as error:
            return _bad_request(f"invalid timestamp: {error}")
        page_size = self.page_size
        limit = _single(params, "limit")
        if limit is not None:
            if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
                return _bad_request(f"limit must be 1..{MAX_PAGE_SIZE}")
            page_size = int(limit)
        query_key = _query_key(params)
        offset = 0
        cursor = _single(params, "cursor")
        if cursor:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
                offset, cursor_query = int(decoded["offset"]), decoded["query"]
            except (ValueError, KeyError, TypeError):
                return _bad_request("invalid cursor")
            if cursor_query != query_key:
                return _bad_request("cursor does not belong to this query")

        with self._lock:
            snapshot = list(self._meetings)  # items are never mutated in place; _shape copies
        selected = [m for m in snapshot if self._matches(m, params, after, before)]
        selected.sort(key=lambda m: (parse_time(m["created_at"]), str(m.get("recording_id"))), reverse=True)
        page = selected[offset : offset + page_size]
        items = [self._shape(m, flags) for m in page]
        body: dict[str, Any] = {"limit": page_size, "items": items}
        if offset + page_size < len(selected):
            raw = json.dumps({"offset": offset + page_size, "query": query_key}, separators=(",", ":"))
            body["next_cursor"] = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        elif self.end_cursor == "null":
            body["next_cursor"] = None
        elif self.end_cursor == "blank":
            body["next_cursor"] = ""
        return _json(200, body)

    def _matches(
        self,
        meeting: Mapping[str, Any],
        params: dict[str, list[str]],
        after: datetime | None,
        before: datetime | None,
    ) -> bool:
        created = parse_time(meeting["created_at"])
        if after is not None and not created > after:
            return False
        if before is not None and not created < before:
            return False
        invitees = meeting.get("calendar_invitees") or []
        domains = {d.lower() for d in params.get("calendar_invitees_domains[]", [])}
        if domains and not any((i.get("email_domain") or "").lower() in domains for i in invitees):
            return False
        domains_type = _single(params, "calendar_invitees_domains_type")
        if domains_type not in (None, "all") and meeting.get("calendar_invitees_domains_type") != domains_type:
            return False
        recorder = meeting.get("recorded_by") or {}
        recorded_by = {e.lower() for e in params.get("recorded_by[]", [])}
        if recorded_by and (recorder.get("email") or "").lower() not in recorded_by:
            return False
        teams = set(params.get("teams[]", []))
        meeting_type = _single(params, "meeting_type")
        if meeting_type is not None and meeting.get("meeting_type") != meeting_type:
            return False
        return not (teams and recorder.get("team") not in teams)

    def _shape(self, meeting: Mapping[str, Any], flags: Mapping[str, bool]) -> dict[str, Any]:
        item = dict(meeting)  # shallow: the answer is serialised right away, nothing is mutated
        for flag, fields in INCLUDE_FLAGS.items():
            for name in fields:
                if not flags[flag] or name not in item:
                    item[name] = None
        if _recording_id(item) in self.withheld | self.missing:
            item["transcript"] = None
        return item

    # -- /recordings/{id}/transcript -----------------------------------------------------------------------

    def _transcript(self, recording_id: int, params: dict[str, list[str]]) -> HttpReply:
        with self._lock:
            meeting = next((m for m in self._meetings if _recording_id(m) == recording_id), None)
        if meeting is None or recording_id in self.missing:
            return _json(404, {"error": "Not found", "message": f"no transcript for recording {recording_id}"})
        destination = _single(params, "destination_url")
        if destination:
            return _json(200, {"destination_url": destination})
        return _json(200, {"transcript": meeting.get("transcript")})

    # -- /oauth2/token --------------------------------------------------------------------------------------

    def _token(self, request: HttpRequest) -> HttpReply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        if request.method != "POST" or form.get("grant_type") != "refresh_token":
            return _json(400, {"error": "unsupported_grant_type"})
        if self._oauth_client is not None and (form.get("client_id"), form.get("client_secret")) != self._oauth_client:
            return _json(401, {"error": "invalid_client"})
        with self._lock:
            issued = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if issued is None:
                return _json(400, {"error": "invalid_grant"})
            new_refresh = f"refresh-{secrets.token_hex(8)}"
            self._refresh_tokens[new_refresh] = f"{issued}-next"
            self._access_tokens.add(issued)
        return _json(200, {"access_token": issued, "refresh_token": new_refresh, "expires_in": 3600})


def _recording_id(meeting: Mapping[str, Any]) -> int | None:
    value = meeting.get("recording_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json(status: int, body: Any) -> HttpReply:
    return HttpReply(status, json.dumps(body, ensure_ascii=False).encode("utf-8"))


def _bad_request(message: str) -> HttpReply:
    return _json(400, {"error": "Bad Request", "message": message})


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _optional_time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def _query_key(params: Mapping[str, list[str]]) -> str:
    """A short hash of every parameter but the cursor: a cursor is only valid for its own query."""
    canonical = json.dumps(sorted((k, sorted(v)) for k, v in params.items() if k != "cursor"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# -- Standard Webhooks sender (vendor-apis.md §4.3) --------------------------------------------------------


def new_webhook_secret() -> str:
    """A signing secret as Fathom / Svix issue them: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64 HMAC-SHA256>` signature of `{id}.{timestamp}.{body}` (the sender's side)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass
class WebhookDelivery:
    """One signed delivery: the headers and the exact body bytes."""

    headers: dict[str, str]
    body: bytes
    msg_id: str
    timestamp: int


@dataclass
class FathomWebhookSender:
    """Signs Meeting bodies like Fathom's "new meeting content ready" webhook and optionally POSTs them."""

    secret: str
    header_prefix: Literal["webhook", "svix"] = "webhook"
    sent: list[WebhookDelivery] = field(default_factory=list)

    def delivery(
        self,
        meeting: Mapping[str, Any],
        *,
        timestamp: int,
        msg_id: str | None = None,
        extra_signatures: Iterable[str] = (),
    ) -> WebhookDelivery:
        """A signed delivery of `meeting`. The body is serialised with non-default spacing so a
        verifier that re-serialises the JSON instead of using the raw bytes fails."""
        body = json.dumps(meeting, ensure_ascii=False, indent=1).encode("utf-8")
        message_id = msg_id or f"msg_{secrets.token_hex(12)}"
        signature = " ".join([*extra_signatures, sign_webhook(self.secret, message_id, timestamp, body)])
        prefix = self.header_prefix
        headers = {
            f"{prefix}-id": message_id,
            f"{prefix}-timestamp": str(timestamp),
            f"{prefix}-signature": signature,
            "content-type": "application/json",
        }
        delivery = WebhookDelivery(headers=headers, body=body, msg_id=message_id, timestamp=timestamp)
        self.sent.append(delivery)
        return delivery

    def deliver(self, url: str, meeting: Mapping[str, Any], *, timestamp: int | None = None) -> httpx.Response:
        """POST a signed delivery of `meeting` to `url` (a running receiver)."""
        delivery = self.delivery(meeting, timestamp=timestamp if timestamp is not None else int(time.time()))
        return httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=10)
