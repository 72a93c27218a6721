"""Live Gong reader: the calls of a window from Gong API v2 (vendor-apis.md §3).

One read of one connection and one window:

1. `POST /v2/calls/extensive` with `filter.fromDateTime`/`toDateTime` set to the window (Gong
   filters on the call *start*, from inclusive, to exclusive) and `exposedFields.parties` so
   transcript speakers can be named; pages follow `records.cursor`, sent back in the body.
2. For each page, `POST /v2/calls/transcript` with `filter.callIds` (in batches) and the same
   date range, also cursor-paged.
3. Each call plus its transcript becomes one message through the export reader's
   `build_gong_message`, so a call read live and the same call read from a saved API response
   give identical messages.

Gong quirks handled here: the base URL differs per customer (`https://<tenant>.api.gong.io`,
or `api_base_url_for_customer` of an OAuth token); an empty range is answered with
**404 "No calls found"**, which means zero calls, not an error; 429 carries `Retry-After`.

Connection config (all optional): `base_url`, `internal_domains`, `workspace_id`,
`transcript_batch_size` (default 100), `retry_budget` (retries per read, default 6),
`retry_base_seconds` (backoff base, default 1.0), `retry_max_wait_seconds` (longest single
wait, default 60), `timeout_seconds` (default 30), `oauth_token_url`.

Credentials: `access_key` + `access_key_secret` (Basic auth), or `access_token` (Bearer; with
`refresh_token`, `client_id` and `client_secret` an expired token is refreshed once and saved
through `save_credentials`), optionally `api_base_url_for_customer`.

Resume state (JSON): `{"version", "cursor", "handled_call_ids"}`: the extensive cursor of the
page being worked on (None = first page) and the ids of the window's calls already turned into
messages or skipped by earlier runs. Ids rather than a position inside the page, so a page whose
order changed between runs still yields every call exactly once; and when Gong no longer accepts
the stored cursor the read restarts from the first page and skips those ids.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn

import httpx

from headway_assets.core.credentials import redact
from headway_assets.core.message import ReadResult, SourceReadError, TimeWindow
from headway_assets.core.retry import RetryBudget, RetryPolicy, RetryRefusedError
from headway_assets.sources.fields import text_field
from headway_assets.sources.gong import SOURCE
from headway_assets.sources.gong.export import (
    GongCallError,
    build_gong_message,
    gong_call_id,
    gong_call_time,
)
from headway_assets.sources.live.base import LiveReader, LiveReadRequest
from headway_assets.sources.live.config import config_domains, config_integer, config_number, retry_after_seconds

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.gong.io"
DEFAULT_OAUTH_TOKEN_URL = "https://app.gong.io/oauth2/generate-customer-token"
EXTENSIVE_PATH = "/v2/calls/extensive"
TRANSCRIPT_PATH = "/v2/calls/transcript"
# Gong accepts long callIds lists; 100 matches its usual page size.
DEFAULT_TRANSCRIPT_BATCH_SIZE = 100
DEFAULT_RETRY_BUDGET = 6
DEFAULT_RETRY_BASE_SECONDS = 1.0
DEFAULT_RETRY_MAX_WAIT_SECONDS = 60.0
DEFAULT_TIMEOUT_SECONDS = 30.0
RESUME_STATE_VERSION = 1
# The parts of a call a message needs: parties name the speakers, topics go to metadata.
CONTENT_SELECTOR: dict[str, Any] = {
    "context": "None",
    "exposedFields": {
        "parties": True,
        "content": {"topics": True},
        "interaction": {"speakers": True},
    },
}


class _RetriesExhaustedError(Exception):
    """The retry budget ran out (rate limits, 5xx, malformed bodies); the text says which."""


class _CursorRejectedError(Exception):
    """Gong answered 400 to a request that carried a cursor (expired or foreign cursor)."""


@dataclass(frozen=True, slots=True)
class GongReadSettings:
    """The connection-config knobs of one read, validated."""

    base_url: str
    internal_domains: tuple[str, ...] = ()
    workspace_id: str | None = None
    transcript_batch_size: int = DEFAULT_TRANSCRIPT_BATCH_SIZE
    retry_budget: int = DEFAULT_RETRY_BUDGET
    retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS
    retry_max_wait_seconds: float = DEFAULT_RETRY_MAX_WAIT_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    oauth_token_url: str = DEFAULT_OAUTH_TOKEN_URL

    @classmethod
    def from_request(cls, request: LiveReadRequest) -> GongReadSettings:
        """Settings from the connection config (and the OAuth token's base URL); bad values are errors."""
        label = request.connection.label
        config = request.connection.config
        base_url = (
            request.base_url or text_field(request.credentials.get("api_base_url_for_customer")) or DEFAULT_BASE_URL
        )
        if not base_url.startswith(("https://", "http://")):
            raise SourceReadError(
                f"Gong connection {label} has base URL {base_url!r}, which is not an http(s) URL; set "
                "'base_url' in its config to the address on the Gong API page (https://<tenant>.api.gong.io)"
            )
        workspace = config.get("workspace_id")
        return cls(
            base_url=base_url.rstrip("/"),
            internal_domains=config_domains(config, connection=label),
            workspace_id=str(workspace) if workspace not in (None, "") else None,
            transcript_batch_size=_number(
                config, "transcript_batch_size", DEFAULT_TRANSCRIPT_BATCH_SIZE, label, int, 1
            ),
            retry_budget=_number(config, "retry_budget", DEFAULT_RETRY_BUDGET, label, int, 0),
            retry_base_seconds=_number(config, "retry_base_seconds", DEFAULT_RETRY_BASE_SECONDS, label, float, 0),
            retry_max_wait_seconds=_number(
                config, "retry_max_wait_seconds", DEFAULT_RETRY_MAX_WAIT_SECONDS, label, float, 0
            ),
            timeout_seconds=_number(config, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS, label, float, 0.1),
            oauth_token_url=text_field(config.get("oauth_token_url")) or DEFAULT_OAUTH_TOKEN_URL,
        )


@dataclass(slots=True)
class GongResumeState:
    """Where a capped (or rate-limited) read stopped; see the module docstring."""

    cursor: str | None = None
    handled_call_ids: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> GongResumeState:
        """The state a previous run saved; an unknown or damaged state starts the window over.

        Starting over is safe (messages are upserted by call id), it only costs requests.
        """
        if not raw:
            return cls()
        cursor = raw.get("cursor")
        ids = raw.get("handled_call_ids")
        if (
            raw.get("version") != RESUME_STATE_VERSION
            or not (cursor is None or isinstance(cursor, str))
            or not isinstance(ids, list)
            or not all(isinstance(i, str) for i in ids)
        ):
            logger.warning("Gong resume state has an unknown shape; reading the window from its start")
            return cls()
        return cls(cursor=cursor, handled_call_ids=set(ids))

    def dump(self) -> dict[str, Any]:
        """JSON-serialisable form for `ReadResult.resume_state`."""
        return {
            "version": RESUME_STATE_VERSION,
            "cursor": self.cursor,
            "handled_call_ids": sorted(self.handled_call_ids),
        }


class _GongApi:
    """One read's httpx client: auth headers, retries within a budget, Gong's status codes."""

    def __init__(
        self,
        request: LiveReadRequest,
        settings: GongReadSettings,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self._request = request
        self._settings = settings
        self.label = request.connection.label
        self._credentials = dict(request.credentials)
        self._retry = RetryPolicy(
            budget=RetryBudget(settings.retry_budget),
            base_seconds=settings.retry_base_seconds,
            max_backoff_seconds=settings.retry_max_wait_seconds,
            max_wait_seconds=settings.retry_max_wait_seconds,
            sleep=sleep,
            rng=rng,
        )
        self._refreshed = False
        self._client = httpx.Client(
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    @property
    def secrets(self) -> list[str]:
        """Every secret this read may hold, including the encoded Basic header (a server may echo it)."""
        values = [v for v in self._credentials.values() if isinstance(v, str) and v]
        return [*values, *self._basic_blobs()]

    def _basic_blobs(self) -> list[str]:
        key, secret = (
            text_field(self._credentials.get("access_key")),
            text_field(self._credentials.get("access_key_secret")),
        )
        if not (key and secret):
            return []
        return [base64.b64encode(f"{key}:{secret}".encode()).decode()]

    def _auth_header(self) -> str:
        token = text_field(self._credentials.get("access_token"))
        if token:
            return f"Bearer {token}"
        blobs = self._basic_blobs()
        if blobs:
            return f"Basic {blobs[0]}"
        raise SourceReadError(
            f"Gong connection {self.label} has no usable credentials: store 'access_key' and "
            "'access_key_secret' (created by a technical administrator on the Gong API page), or "
            "reconnect Gong with OAuth"
        )

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def post(self, path: str, body: dict[str, Any], *, list_key: str, what: str) -> dict[str, Any] | None:
        """POST `body` and return the JSON answer; None when Gong says "no calls found" (404).

        Rate limits, 5xx, transport errors and malformed bodies are retried within the read's
        budget (`_RetriesExhaustedError` when it runs out); credential and request errors raise
        `SourceReadError`; a 400 to a request carrying a cursor raises `_CursorRejectedError`.
        """
        attempt = 0
        while True:
            try:
                response = self._client.post(path, json=body, headers={"Authorization": self._auth_header()})
            except httpx.TransportError as exc:
                self._spend(f"{what}: network error ({type(exc).__name__})", attempt)
                attempt += 1
                continue
            status = response.status_code
            if status == 200:
                page = _json_object(response)
                problem = "not a JSON object" if page is None else _page_problem(page, list_key)
                if page is not None and problem is None:
                    return page
                self._spend(f"{what}: malformed response ({problem})", attempt)
                attempt += 1
                continue
            if status == 404:
                self._check_no_calls(response, what)
                return None
            if status == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                self._spend(f"{what}: rate limited by Gong (HTTP 429)", attempt, wait)
                attempt += 1
                continue
            if status >= 500:
                self._spend(f"{what}: Gong server error (HTTP {status})", attempt)
                attempt += 1
                continue
            if status == 401 and self._try_refresh():
                continue
            self._fail(response, body, what)

    def _spend(self, reason: str, attempt: int, retry_after: float | None = None) -> None:
        """Use one retry of the shared policy and wait, or give up when none is left or the wait is too long."""
        try:
            self._retry.spend(
                attempt,
                retry_after,
                before_sleep=lambda wait: logger.info(
                    "Gong %s; retrying in %.2f s (%d retries left)", reason, wait, self._retry.budget.remaining
                ),
            )
        except RetryRefusedError as exc:
            if exc.wait is None:
                raise _RetriesExhaustedError(
                    f"{reason}; the retry budget of {self._settings.retry_budget} is used up"
                ) from None
            raise _RetriesExhaustedError(
                f"{reason}; Gong asked to wait {exc.wait:g} s, more than the "
                f"{self._settings.retry_max_wait_seconds:g} s this read may wait"
            ) from None

    def _check_no_calls(self, response: httpx.Response, what: str) -> None:
        """Accept Gong's 404 "No calls found for the specified period" (zero calls); any other 404 is an error."""
        body = _json_object(response)
        if body is not None and ("errors" in body or "requestId" in body):
            return
        raise SourceReadError(
            self._redact(
                f"Gong connection {self.label}: {what} answered 404 from {response.request.url} with a body that "
                "is not a Gong API answer; check the connection's base URL (the address on the Gong API page, "
                "https://<tenant>.api.gong.io)"
            )
        )

    def _fail(self, response: httpx.Response, body: Mapping[str, Any], what: str) -> NoReturn:
        status = response.status_code
        errors = _errors(response)
        if status == 401:
            message = (
                f"Gong rejected the credentials of connection {self.label} (HTTP 401{errors}); check the Gong "
                "access key and secret on the Gong API page, or reconnect Gong if it was connected with OAuth"
            )
        elif status == 403:
            message = (
                f"Gong refused {what} for connection {self.label} (HTTP 403{errors}); the key or token needs the "
                "scopes api:calls:read:extensive and api:calls:read:transcript: reconnect Gong with them"
            )
        elif status == 400 and body.get("cursor"):
            raise _CursorRejectedError(
                self._redact(f"{what}: Gong rejected the request with its cursor (HTTP 400{errors})")
            )
        elif status == 400:
            message = (
                f"Gong rejected {what} of connection {self.label} as malformed (HTTP 400{errors}); check the "
                "connection's 'workspace_id' setting"
            )
        else:
            message = f"Gong answered {what} of connection {self.label} with HTTP {status}{errors}; try again later"
        raise SourceReadError(self._redact(message))

    def _try_refresh(self) -> bool:
        """Refresh an OAuth access token once per read; True when a new one was obtained."""
        creds = self._credentials
        if self._refreshed or not text_field(creds.get("access_token")):
            return False
        refresh_token = text_field(creds.get("refresh_token"))
        client_id, client_secret = text_field(creds.get("client_id")), text_field(creds.get("client_secret"))
        if not (refresh_token and client_id and client_secret):
            return False
        self._refreshed = True
        try:
            # The refresh token goes in the form body, never the URL, which httpx logs.
            response = self._client.post(
                self._settings.oauth_token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=(client_id, client_secret),
            )
        except httpx.TransportError as exc:
            raise SourceReadError(
                f"Gong connection {self.label}: refreshing the OAuth token failed ({type(exc).__name__}); "
                "try again later"
            ) from None
        token = _json_object(response) if response.status_code == 200 else None
        if token is None or not text_field(token.get("access_token")):
            raise SourceReadError(
                self._redact(
                    f"Gong refused to refresh the OAuth token of connection {self.label} "
                    f"(HTTP {response.status_code}{_errors(response)}); reconnect Gong"
                )
            )
        creds["access_token"] = str(token["access_token"])
        for key in ("refresh_token", "api_base_url_for_customer"):
            if text_field(token.get(key)):
                creds[key] = str(token[key])
        if self._request.save_credentials is not None:
            self._request.save_credentials(dict(creds))
        return True


class GongLiveReader(LiveReader):
    """Reads a Gong connection's calls for a window: one message per call with a transcript."""

    source: ClassVar[str] = SOURCE

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        self._sleep = sleep
        self._rng = random.Random(seed)

    def read(self, request: LiveReadRequest) -> ReadResult:
        """Fetch the window's calls and transcripts (see the module docstring)."""
        settings = GongReadSettings.from_request(request)
        state = GongResumeState.load(request.resume_state)
        handled_before = len(state.handled_call_ids)
        result = ReadResult()
        api = _GongApi(request, settings, self._sleep, self._rng)
        try:
            finished = self._read_pages(api, request, settings, state, result)
        except _RetriesExhaustedError as exc:
            reason = redact(str(exc), api.secrets)
            if len(state.handled_call_ids) == handled_before:
                raise SourceReadError(
                    f"Gong connection {request.connection.label}: nothing of {request.window} could be read: "
                    f"{reason}. Try again later; if it persists, check Gong's status page or raise the "
                    "connection's 'retry_budget'"
                ) from None
            logger.warning("Gong connection %s stopped early: %s", request.connection.label, reason)
            finished = False
        finally:
            api.close()
        if not finished:
            result.complete = False
            result.resume_state = state.dump()
        return result

    def _read_pages(
        self,
        api: _GongApi,
        request: LiveReadRequest,
        settings: GongReadSettings,
        state: GongResumeState,
        result: ReadResult,
    ) -> bool:
        """Work through the extensive pages from `state.cursor`; False when stopped at the cap."""
        cap = request.max_messages if request.max_messages and request.max_messages > 0 else None
        restarted = False
        while True:
            body: dict[str, Any] = {"filter": _filter(request.window, settings), "contentSelector": CONTENT_SELECTOR}
            if state.cursor:
                body["cursor"] = state.cursor
            try:
                page = api.post(EXTENSIVE_PATH, body, list_key="calls", what="POST /v2/calls/extensive")
            except _CursorRejectedError:
                if restarted or state.cursor is None:
                    raise SourceReadError(
                        f"Gong connection {request.connection.label}: Gong rejected the paging cursor it had just "
                        "sent; try again later"
                    ) from None
                # A stored cursor from an earlier run may have expired: start over, skipping handled calls.
                logger.warning(
                    "Gong rejected the stored cursor of %s; re-reading from the first page", request.connection.label
                )
                state.cursor, restarted = None, True
                continue
            pending = self._pending_calls(page, request.window, state, result)
            # Transcripts are fetched in batches no larger than the room left under the cap, so a
            # capped run does not download transcripts it will not use.
            index = 0
            while index < len(pending):
                if cap is not None and len(result.messages) >= cap:
                    return False
                room = settings.transcript_batch_size if cap is None else cap - len(result.messages)
                batch = pending[index : index + min(settings.transcript_batch_size, room)]
                transcripts = self._transcripts(api, request.window, settings, [call_id for call_id, _ in batch])
                for call_id, call in batch:
                    self._emit(call_id, call, transcripts.get(call_id), settings, result)
                    state.handled_call_ids.add(call_id)
                index += len(batch)
            next_cursor = _next_cursor(page)
            if next_cursor is None:
                return True
            if next_cursor == state.cursor:
                # Paging would never end; better to fail loudly than to spin on one page.
                raise SourceReadError(
                    f"Gong connection {request.connection.label}: POST /v2/calls/extensive returned the cursor it "
                    "was sent, so paging cannot progress; try again later or contact Gong support"
                )
            state.cursor = next_cursor

    def _pending_calls(
        self,
        page: Mapping[str, Any] | None,
        window: TimeWindow,
        state: GongResumeState,
        result: ReadResult,
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """The page's calls still to turn into messages (not handled earlier, inside the window)."""
        pending: list[tuple[str, Mapping[str, Any]]] = []
        seen: set[str] = set()
        for index, call in enumerate(page.get("calls") or [] if page else []):
            if not isinstance(call, Mapping):
                result.skip(f"gong /v2/calls/extensive calls[{index}]", "call entry is not a JSON object")
                continue
            call_id = gong_call_id(call)
            if call_id is None:
                result.skip(
                    f"gong /v2/calls/extensive calls[{index}]",
                    "call has no metaData.id, so its transcript cannot be fetched",
                )
                continue
            if call_id in state.handled_call_ids or call_id in seen:
                continue
            sent_at = gong_call_time(call)
            if sent_at is None:
                result.skip(f"gong call {call_id}", "call has no parseable metaData.started or metaData.scheduled time")
                state.handled_call_ids.add(call_id)
                continue
            if not window.contains(sent_at):
                # Gong filters on the start time; a call without one is dated by its schedule.
                result.ignored["call_outside_window"] = result.ignored.get("call_outside_window", 0) + 1
                state.handled_call_ids.add(call_id)
                continue
            seen.add(call_id)
            pending.append((call_id, call))
        return pending

    def _transcripts(
        self, api: _GongApi, window: TimeWindow, settings: GongReadSettings, call_ids: Sequence[str]
    ) -> dict[str, Mapping[str, Any]]:
        """The transcripts of `call_ids` (calls without one are absent), following the cursor."""
        found: dict[str, Mapping[str, Any]] = {}
        cursor: str | None = None
        while True:
            body: dict[str, Any] = {"filter": {**_filter(window, settings), "callIds": list(call_ids)}}
            if cursor:
                body["cursor"] = cursor
            try:
                page = api.post(TRANSCRIPT_PATH, body, list_key="callTranscripts", what="POST /v2/calls/transcript")
            except _CursorRejectedError as exc:
                raise SourceReadError(f"Gong connection {api.label}: {exc}; try again later") from None
            if page is None:
                return found  # 404: none of these calls has a transcript
            for item in page.get("callTranscripts") or []:
                if isinstance(item, Mapping) and text_field(item.get("callId")):
                    found[str(item["callId"]).strip()] = item
            next_cursor = _next_cursor(page)
            if next_cursor is None:
                return found
            if next_cursor == cursor:
                raise SourceReadError(
                    f"Gong connection {api.label}: POST /v2/calls/transcript returned the cursor it was sent, so "
                    "paging cannot progress; try again later or contact Gong support"
                )
            cursor = next_cursor

    def _emit(
        self,
        call_id: str,
        call: Mapping[str, Any],
        transcript: Mapping[str, Any] | None,
        settings: GongReadSettings,
        result: ReadResult,
    ) -> None:
        location = f"gong call {call_id}"
        if transcript is None:
            result.skip(
                location,
                "Gong returned no transcript for this call (not recorded, transcription off, or still being "
                "processed); re-materialise the partition later to pick it up",
            )
            return
        try:
            result.messages.append(build_gong_message(call, transcript, internal_domains=settings.internal_domains))
        except GongCallError as exc:
            result.skip(location, str(exc))


def _filter(window: TimeWindow, settings: GongReadSettings) -> dict[str, Any]:
    value: dict[str, Any] = {"fromDateTime": _iso_z(window.start), "toDateTime": _iso_z(window.end)}
    if settings.workspace_id:
        value["workspaceId"] = settings.workspace_id
    return value


def _iso_z(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z` (microseconds only when present)."""
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _next_cursor(page: Mapping[str, Any] | None) -> str | None:
    records = page.get("records") if page else None
    cursor = records.get("cursor") if isinstance(records, Mapping) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _page_problem(page: dict[str, Any], list_key: str) -> str | None:
    """Why a 200 body is not a usable Gong page, or None when it is."""
    if not isinstance(page.get(list_key), list):
        # An empty range is a 404, so a 200 without the list is damage, not "no calls".
        return f"no '{list_key}' list"
    records = page.get("records")
    if records is not None and not isinstance(records, Mapping):
        return "'records' is not an object"
    if isinstance(records, Mapping) and records.get("cursor") is not None and not isinstance(records["cursor"], str):
        return "'records.cursor' is not a string"
    return None


def _errors(response: httpx.Response) -> str:
    """`: <Gong's error messages>` from an error body, or ``."""
    body = _json_object(response)
    errors = body.get("errors") if body else None
    if isinstance(errors, list) and errors:
        return ": " + "; ".join(str(e) for e in errors)[:300]
    return ""


def _number(config: Mapping[str, Any], key: str, default: float, label: str, kind: type[Any], minimum: float) -> Any:
    if kind is int:
        return config_integer(config, key, int(default), connection=label, minimum=int(minimum))
    return config_number(config, key, default, connection=label, minimum=minimum)
