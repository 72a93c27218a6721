"""A local fake of Gong API v2 (vendor-apis.md §3) that httpx clients talk to through a base URL.

    org = build_demo_corpus().org("acme")
    with FakeGongServer.from_demo(org, page_size=2) as gong:
        base_url = gong.base_url            # http://127.0.0.1:<port>/<tenant prefix>
        gong.add_fault(EXTENSIVE, "rate_limit", times=2, retry_after="1")

Endpoints, all under the tenant prefix (Gong's base URL differs per customer):
- `POST /v2/calls/extensive`: `filter` (required; `fromDateTime` inclusive / `toDateTime`
  exclusive on the call *start*, `callIds`, `workspaceId`, `primaryUserIds`), `contentSelector`
  (parties, content topics, interaction speakers only when asked for), `cursor` in the body.
- `POST /v2/calls/transcript`: `filter` with the date range and `callIds` (only calls inside
  the range), `cursor` in the body.
- `GET /v2/calls?fromDateTime=&toDateTime=&cursor=` (both dates required) and
  `GET /v2/users?cursor=`.
- `POST /oauth2/generate-customer-token` (outside the prefix, like app.gong.io): refresh-token
  grant with Basic client auth.

Answers follow Gong: `{"requestId", "records": {totalRecords, currentPageSize,
currentPageNumber, cursor (only when more records exist)}, ...}`; errors as
`{"requestId", "errors": [...]}`; an empty result is **404** "No calls found"; a cursor is
tied to the filter it was issued for (another filter gets 400). Auth: Basic
`access_key:access_key_secret` or Bearer tokens; anything else gets 401.

Faults are scripted per endpoint with `add_fault`: `rate_limit` (429, integer `Retry-After` or
none), `server_error` (500 or another 5xx), `malformed` (200 with broken JSON), `cut` (body cut
in transit), `unauthorized` (401 mid-read), `echo_unauthorized` (a 401 that echoes the
Authorization header, to prove clients redact it), `stuck_cursor` (a pager that hands back the
cursor it was sent), each for a number of matching requests, optionally after letting some
through. `revoke_all()` invalidates every credential; `invalidate_cursors()` expires cursors;
`missing_transcripts` leaves calls without a transcript. Every request is recorded
(`requests`) with its parsed JSON body, the auth scheme (credentials are not kept) and the
status sent.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

from ._http import BackgroundHTTPServer, HttpReply, HttpRequest

EXTENSIVE = "/v2/calls/extensive"
TRANSCRIPT = "/v2/calls/transcript"
CALLS = "/v2/calls"
USERS = "/v2/users"
TOKEN = "/oauth2/generate-customer-token"
DEFAULT_ACCESS_KEY = "GONGKEYFAKE0001"
DEFAULT_ACCESS_KEY_SECRET = "gong-fake-secret-0001"
DEFAULT_PAGE_SIZE = 100
NO_CALLS_MESSAGE = "No calls found corresponding to the provided filters"

FaultKind = Literal[
    "rate_limit", "server_error", "malformed", "cut", "unauthorized", "echo_unauthorized", "stuck_cursor"
]
STUCK_CURSOR = "eyJzdHVjayI6IHRydWV9"


@dataclass
class GongFault:
    """A scripted fault: `kind` for `times` requests to `endpoint` ("*" = any), once `after` have passed.

    `after` counts every request to the endpoint since the fault was added, faulted or not;
    when several faults are due, the one added first answers.
    """

    endpoint: str
    kind: FaultKind
    times: int = 1
    after: int = 0
    retry_after: str | None = "0"
    status: int = 500
    seen: int = 0
    fired: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it (no credentials)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    auth_scheme: str | None
    status: int
    fault: str | None = None


class FakeGongServer(BackgroundHTTPServer):
    """Gong API v2 over one tenant's calls, transcripts and users (see the module docstring)."""

    def __init__(
        self,
        *,
        calls: list[dict[str, Any]] | None = None,
        transcripts: list[dict[str, Any]] | None = None,
        users: list[dict[str, Any]] | None = None,
        workspace_id: str = "623457276584334",
        prefix: str = "/tenant-us-55616",
        page_size: int = DEFAULT_PAGE_SIZE,
        transcript_page_size: int = DEFAULT_PAGE_SIZE,
        access_keys: Mapping[str, str] | None = None,
        bearer_tokens: Iterable[str] = (),
        oauth_clients: Mapping[str, str] | None = None,
        refresh_tokens: Iterable[str] = (),
        missing_transcripts: Iterable[str] = (),
    ) -> None:
        super().__init__()
        self.calls = list(calls or [])
        self.transcripts = list(transcripts or [])
        self.users = list(users or [])
        self.workspace_id = workspace_id
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.page_size = page_size
        self.transcript_page_size = transcript_page_size
        self.access_keys = dict({DEFAULT_ACCESS_KEY: DEFAULT_ACCESS_KEY_SECRET} if access_keys is None else access_keys)
        self.bearer_tokens = set(bearer_tokens)
        # OAuth clients (client_id -> secret) and their valid refresh tokens.
        self.oauth_clients = dict(oauth_clients or {})
        self.refresh_tokens = set(refresh_tokens)
        # Calls whose transcript the API does not have (not recorded, still processing).
        self.missing_transcripts = set(missing_transcripts)
        self.requests: list[RecordedRequest] = []
        self.issued_tokens: list[str] = []
        self._faults: list[GongFault] = []
        self._lock = threading.Lock()
        self._cursor_salt = secrets.token_hex(4)
        self._request_counter = 0

    @classmethod
    def from_demo(cls, org: Any, **kwargs: Any) -> FakeGongServer:
        """A fake serving one demo organisation's Gong data (`DemoOrgCorpus`)."""
        gong = org.gong
        # The fake never mutates what it serves (answers are serialised copies), so sharing is safe.
        return cls(
            calls=list(gong.calls),
            transcripts=list(gong.transcripts),
            users=list(gong.users),
            workspace_id=gong.workspace_id,
            **kwargs,
        )

    # -- scripting -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The tenant's API base URL (what the Gong API page shows)."""
        return self.url + self.prefix

    def add_fault(
        self,
        endpoint: str,
        kind: FaultKind,
        *,
        times: int = 1,
        after: int = 0,
        retry_after: str | None = "0",
        status: int = 500,
    ) -> GongFault:
        """Answer `times` requests to `endpoint` (after `after` clean ones) with `kind`."""
        fault = GongFault(endpoint, kind, times=times, after=after, retry_after=retry_after, status=status)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every scripted fault."""
        with self._lock:
            self._faults.clear()

    def revoke_all(self) -> None:
        """Invalidate every access key and bearer token (a deleted key or a revoked install)."""
        with self._lock:
            self.access_keys.clear()
            self.bearer_tokens.clear()

    def invalidate_cursors(self) -> None:
        """Make every cursor issued so far unusable (an expired cursor)."""
        with self._lock:
            self._cursor_salt = secrets.token_hex(4)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests to one endpoint (path without the prefix)."""
        return [r for r in self.requests if r.path == path]

    # -- dispatch --------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Route one request; record it with the status sent."""
        with self._lock:
            self._request_counter += 1
            request_id = f"fake{self._request_counter:06d}{self._cursor_salt}"
        query = parse_qs(request.query, keep_blank_values=True)
        body: Any = None
        if request.body and request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(request.body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = request.body.decode("utf-8", "replace")
        elif request.body:
            body = request.body.decode("utf-8", "replace")
        path = request.path
        if path == TOKEN:
            reply, fault = self._token(request), None
            body = None  # the form carries a refresh token: not kept
        elif not path.startswith(self.prefix + "/v2/"):
            # Not Gong: the wrong host or tenant answers with a plain page.
            reply, fault = HttpReply(404, b"<html><body>Not Found</body></html>", {"content-type": "text/html"}), None
            path = request.path
        else:
            path = path[len(self.prefix) :]
            reply, fault = self._api(request, path, query, body, request_id)
        scheme = request.headers.get("authorization", "").split(" ", 1)[0] or None
        self.requests.append(RecordedRequest(request.method, path, query, body, scheme, reply.status, fault))
        return reply

    def _api(
        self, request: HttpRequest, path: str, query: dict[str, list[str]], body: Any, request_id: str
    ) -> tuple[HttpReply, str | None]:
        routes = {
            ("POST", EXTENSIVE): self._extensive,
            ("POST", TRANSCRIPT): self._transcript,
            ("GET", CALLS): self._list_calls,
            ("GET", USERS): self._list_users,
        }
        route = routes.get((request.method, path))
        if route is None:
            return _error(404, request_id, f"No route for {request.method} {path}"), None
        if not self._authorised(request.headers.get("authorization", "")):
            return _error(401, request_id, "Access denied: invalid access key or token"), None
        fault = self._take_fault(path)
        if fault is not None and fault.kind == "echo_unauthorized":
            # A hostile server that echoes the credentials back: the client must redact them.
            presented = request.headers.get("authorization", "")
            return _error(401, request_id, f"Access denied for authorization '{presented}'"), fault.kind
        if fault is not None and fault.kind == "unauthorized":
            return _error(401, request_id, "Access denied"), fault.kind
        if fault is not None and fault.kind == "stuck_cursor" and isinstance(body, dict):
            # A broken pager: the first page, whose cursor is the one sent (or a fixed one).
            answer = json.loads(route(query, {k: v for k, v in body.items() if k != "cursor"}, request_id).body)
            answer.setdefault("records", {})["cursor"] = body.get("cursor") or STUCK_CURSOR
            return _ok(answer), fault.kind
        if fault is not None:
            return self._fault_reply(fault, request_id), fault.kind
        try:
            return route(query, body, request_id), None
        except _BadRequest as exc:
            return _error(400, request_id, str(exc)), None

    def _take_fault(self, path: str) -> GongFault | None:
        """The fault for this request: `after` counts every request to the endpoint since the fault was added."""
        chosen: GongFault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.endpoint not in ("*", path):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.after and fault.fired < fault.times:
                    fault.fired += 1
                    chosen = fault
        return chosen

    def _fault_reply(self, fault: GongFault, request_id: str) -> HttpReply:
        if fault.kind == "rate_limit":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            reply = _error(429, request_id, "API request limit exceeded")
            reply.headers.update(headers)
            return reply
        if fault.kind == "server_error":
            return _error(fault.status, request_id, "Unexpected error")
        if fault.kind == "malformed":
            return HttpReply(200, b'{"requestId": "' + request_id.encode() + b'", "records": {"totalRec')
        # "cut": the headers promise a full body that never arrives.
        full = json.dumps({"requestId": request_id, "records": {}, "calls": []}).encode()
        return HttpReply(200, full, cut_body_at=len(full) // 2)

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        with self._lock:
            if scheme == "Bearer":
                return value in self.bearer_tokens
            if scheme == "Basic":
                try:
                    key, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    return False
                return bool(key) and self.access_keys.get(key) == secret
        return False

    # -- endpoints -------------------------------------------------------------------------

    def _extensive(self, query: dict[str, list[str]], body: Any, request_id: str) -> HttpReply:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            raise _BadRequest("filter is required")
        matched = self._filter_calls(body["filter"], require_dates=False)
        selector = body.get("contentSelector") or {}
        if not isinstance(selector, dict):
            raise _BadRequest("contentSelector must be an object")
        if not matched:
            return _error(404, request_id, NO_CALLS_MESSAGE)
        page, records = self._page(matched, body.get("cursor"), EXTENSIVE, body["filter"], self.page_size)
        return _ok({"requestId": request_id, "records": records, "calls": [_select(c, selector) for c in page]})

    def _transcript(self, query: dict[str, list[str]], body: Any, request_id: str) -> HttpReply:
        if not isinstance(body, dict) or not isinstance(body.get("filter"), dict):
            raise _BadRequest("filter is required")
        calls = self._filter_calls(body["filter"], require_dates=False)
        by_id = {t["callId"]: t for t in self.transcripts}
        matched = [
            by_id[c["metaData"]["id"]]
            for c in calls
            if c["metaData"]["id"] in by_id and c["metaData"]["id"] not in self.missing_transcripts
        ]
        if not matched:
            return _error(404, request_id, NO_CALLS_MESSAGE)
        page, records = self._page(matched, body.get("cursor"), TRANSCRIPT, body["filter"], self.transcript_page_size)
        return _ok({"requestId": request_id, "records": records, "callTranscripts": page})

    def _list_calls(self, query: dict[str, list[str]], body: Any, request_id: str) -> HttpReply:
        flt = {key: values[-1] for key, values in query.items() if key != "cursor"}
        matched = self._filter_calls(flt, require_dates=True)
        cursor = query.get("cursor", [None])[-1]
        if not matched:
            return _error(404, request_id, NO_CALLS_MESSAGE)
        page, records = self._page(matched, cursor, CALLS, flt, self.page_size)
        return _ok({"requestId": request_id, "records": records, "calls": [c["metaData"] for c in page]})

    def _list_users(self, query: dict[str, list[str]], body: Any, request_id: str) -> HttpReply:
        cursor = query.get("cursor", [None])[-1]
        page, records = self._page(self.users, cursor, USERS, {}, self.page_size)
        return _ok({"requestId": request_id, "records": records, "users": page})

    def _token(self, request: HttpRequest) -> HttpReply:
        request_id = "token"
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, client_secret = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id, client_secret = "", ""
        if scheme != "Basic" or self.oauth_clients.get(client_id) != client_secret or not client_id:
            return _error(401, request_id, "invalid client")
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type", [""])[-1] != "refresh_token":
            return _error(400, request_id, "unsupported grant_type")
        refresh = form.get("refresh_token", [""])[-1]
        with self._lock:
            if refresh not in self.refresh_tokens:
                return _error(400, request_id, "invalid refresh token")
            self.refresh_tokens.discard(refresh)
            access, new_refresh = "gong-at-" + secrets.token_hex(12), "gong-rt-" + secrets.token_hex(12)
            self.bearer_tokens.add(access)
            self.refresh_tokens.add(new_refresh)
            self.issued_tokens.append(access)
        return _ok(
            {
                "access_token": access,
                "refresh_token": new_refresh,
                "expires_in": 86400,
                "token_type": "bearer",
                "scope": "api:calls:read:extensive api:calls:read:transcript",
                "api_base_url_for_customer": self.base_url,
            }
        )

    # -- helpers ---------------------------------------------------------------------------

    def _filter_calls(self, flt: Mapping[str, Any], *, require_dates: bool) -> list[dict[str, Any]]:
        start, end = (
            _parse_time(flt.get("fromDateTime"), "fromDateTime"),
            _parse_time(flt.get("toDateTime"), "toDateTime"),
        )
        if require_dates and (start is None or end is None):
            raise _BadRequest("fromDateTime and toDateTime are required")
        ids = flt.get("callIds")
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
            raise _BadRequest("callIds must be a list of strings")
        users = flt.get("primaryUserIds")
        workspace = flt.get("workspaceId")
        matched = []
        for call in self.calls:
            meta = call["metaData"]
            started = _parse_time(meta.get("started"), "started")
            if start is not None and (started is None or started < start):
                continue
            if end is not None and (started is None or started >= end):
                continue
            if ids is not None and meta["id"] not in ids:
                continue
            if users is not None and meta.get("primaryUserId") not in users:
                continue
            if workspace not in (None, "") and str(workspace) != self.workspace_id:
                continue
            matched.append(call)
        return sorted(matched, key=lambda c: (c["metaData"]["started"], c["metaData"]["id"]))

    def _page(
        self, items: list[Any], cursor: Any, endpoint: str, flt: Any, size: int
    ) -> tuple[list[Any], dict[str, Any]]:
        fingerprint = self._fingerprint(endpoint, flt)
        offset = 0
        if cursor not in (None, ""):
            offset = self._decode_cursor(cursor, fingerprint)
        page = items[offset : offset + size]
        records: dict[str, Any] = {
            "totalRecords": len(items),
            "currentPageSize": len(page),
            "currentPageNumber": offset // max(size, 1),
        }
        if offset + len(page) < len(items):
            records["cursor"] = self._encode_cursor(offset + len(page), fingerprint)
        return page, records

    def _fingerprint(self, endpoint: str, flt: Any) -> str:
        canonical = json.dumps([endpoint, flt], sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def _encode_cursor(self, offset: int, fingerprint: str) -> str:
        payload = json.dumps({"o": offset, "f": fingerprint, "s": self._cursor_salt}).encode()
        return "eyJ" + base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def _decode_cursor(self, cursor: Any, fingerprint: str) -> int:
        try:
            raw = str(cursor)[3:]
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            offset = int(data["o"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise _BadRequest("cursor is invalid") from None
        if data.get("s") != self._cursor_salt:
            raise _BadRequest("cursor has expired")
        if data.get("f") != fingerprint:
            raise _BadRequest("cursor does not belong to this request: send the same filter with the cursor")
        return offset


class _BadRequest(Exception):  # noqa: N818 - mirrors HTTP 400
    """The request is malformed (HTTP 400)."""


def _select(call: Mapping[str, Any], selector: Mapping[str, Any]) -> dict[str, Any]:
    """The call with only the parts `contentSelector` asked for."""
    exposed = selector.get("exposedFields") or {}
    out: dict[str, Any] = {"metaData": copy.deepcopy(call["metaData"])}
    if exposed.get("parties") and "parties" in call:
        parties = copy.deepcopy(call["parties"])
        if selector.get("context") not in ("Basic", "Extended"):
            for party in parties:
                party.pop("context", None)
        out["parties"] = parties
    for group in ("content", "interaction"):
        wanted = exposed.get(group)
        if isinstance(wanted, Mapping) and isinstance(call.get(group), Mapping):
            part = {k: copy.deepcopy(v) for k, v in call[group].items() if wanted.get(k)}
            if part:
                out[group] = part
    return out


def _parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"{name} must be an ISO-8601 date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _BadRequest(f"{name} is not an ISO-8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise _BadRequest(f"{name} needs an offset or Z: {value!r}")
    return moment.astimezone(UTC)


def _ok(body: Any) -> HttpReply:
    return HttpReply(200, json.dumps(body).encode())


def _error(status: int, request_id: str, *messages: str) -> HttpReply:
    return HttpReply(status, json.dumps({"requestId": request_id, "errors": list(messages)}).encode())


def demo_call_ids(org: Any, start: datetime, end: datetime) -> list[str]:
    """Ids of an organisation's demo calls that started in `[start, end)` (the expected answer)."""
    out = []
    for call in org.gong.calls:
        started = datetime.fromisoformat(call["metaData"]["started"])
        if start <= started < end:
            out.append(call["metaData"]["id"])
    return out


def call_ids(calls: Iterable[Mapping[str, Any]]) -> list[str]:
    """The `metaData.id` of each call."""
    return [c["metaData"]["id"] for c in calls]
