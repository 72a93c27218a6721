"""Live reader for the Fathom External API (vendor-apis.md §4): `GET /meetings` for a window.

How a window is fetched
-----------------------
Fathom filters `/meetings` by `created_at`, but a meeting belongs to the partition of the
moment it was *recorded*: its sent time is `fathom_meeting_time(meeting)` (recording start,
else scheduled start, else `created_at`), exactly what `parse_fathom_meeting` puts in
`sent_at`. `created_at` is set when Fathom has processed the recording, i.e. after it ended,
so for a window `[start, end)` the reader asks for

    created_after  = start - 1 s                (the bound's inclusiveness is not documented)
    created_before = end + created_slack        (config `created_slack_hours`, default 48 h)

and keeps only the meetings whose sent time is inside the window. A meeting recorded late on
the last day is created after `end` and is still found; a meeting of the previous day created
after `start` is fetched and dropped. A meeting whose processing took longer than the slack is
missed by that sync (re-sync the partition later, or rely on the webhook receiver,
`fathom_webhook.py`, which ingests every meeting as Fathom finishes it).

With an API key (credentials `api_key`, header `X-Api-Key`) transcripts come inline with
`include_transcript=true`. With OAuth (credentials `access_token`, header
`Authorization: Bearer`) Fathom does not offer `include_transcript`, so the reader fetches
`/recordings/{id}/transcript` for each meeting of the window. In API-key mode a listed meeting
whose `transcript` is null is fetched the same way once; a meeting that has no transcript
there either (404 / empty) becomes a skipped item naming its recording id.

Paging, cap and resume
----------------------
Pages follow `next_cursor` (null, missing or blank ends the listing) with the other query
parameters unchanged. The resume state is `{cursor, index, next_recording_id}` plus the
query range: the page to refetch, the position in it, and the id found there, so the next
run continues exactly where the capped one stopped (if a new meeting shifted the page, the
id is looked up in the page; if it is gone, the page is re-read from its start — duplicates
are harmless, the warehouse upserts by id — so nothing is lost). A capped run stops at the
first in-window meeting beyond the cap, so it reports `complete=True` only when it really
reached the end of the listing.

Retries
-------
429 waits `Retry-After` (seconds or an HTTP date), else `RateLimit-Reset`, else an
exponential backoff with jitter; 5xx, transport errors and malformed bodies are retried with
the backoff. Every retry spends one unit of the per-read budget (config `max_retries`); a
wait longer than `retry_max_wait_seconds` or an empty budget ends the read early with what
arrived (`complete=False` + resume state), or raises `SourceReadError` when nothing could be
read at all. 401/403 end the read with a `SourceReadError` (an OAuth token is refreshed
first when the credentials carry `refresh_token`, `client_id` and `client_secret`).

Connection config keys (all optional): `base_url`, `internal_domains`, `created_slack_hours`,
`max_retries`, `retry_backoff_seconds`, `retry_max_backoff_seconds`,
`retry_max_wait_seconds`, `timeout_seconds`, `oauth_token_url`.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from headway_assets.core.credentials import CredentialsError, redact
from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.core.retry import RetryBudget, RetryPolicy, RetryRefusedError
from headway_assets.sources.fathom import SOURCE
from headway_assets.sources.fathom.export import (
    FathomMeetingError,
    fathom_meeting_time,
    fathom_recording_id,
    parse_fathom_meeting,
)
from headway_assets.sources.live.base import LiveReader, LiveReadRequest
from headway_assets.sources.live.config import config_domains, config_number, retry_after_seconds

LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.fathom.ai/external/v1"
DEFAULT_TOKEN_URL = "https://fathom.video/external/v1/oauth2/token"
DEFAULT_CREATED_SLACK_HOURS = 48.0
DEFAULT_MAX_RETRIES = 6
DEFAULT_BACKOFF_SECONDS = 0.5
DEFAULT_MAX_BACKOFF_SECONDS = 30.0
# Fathom's rate-limit window is 60 s, so a longer wait means something else is wrong.
DEFAULT_MAX_WAIT_SECONDS = 60.0
DEFAULT_TIMEOUT_SECONDS = 30.0
RESUME_STATE_VERSION = 1
# How much of an error body may go into a message (after redaction).
ERROR_BODY_CHARS = 200
MEETINGS_PATH = "/meetings"
EMPTY_TRANSCRIPT = "Fathom has an empty transcript for this meeting (nothing was transcribed); it was not read"

KEY_REJECTED = "the Fathom API key was rejected; update it"
TOKEN_REJECTED = "the Fathom OAuth token was rejected and could not be refreshed; reconnect Fathom for this connection"


@dataclass(frozen=True, slots=True)
class FathomReadOptions:
    """Tunables of one connection, from its config (see the module docstring for the keys)."""

    created_slack: timedelta = timedelta(hours=DEFAULT_CREATED_SLACK_HOURS)
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_SECONDS
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    internal_domains: tuple[str, ...] = ()
    token_url: str = DEFAULT_TOKEN_URL

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, connection: str) -> FathomReadOptions:
        """Options from a connection's config; a bad value is a `SourceReadError` naming the key."""

        def number(key: str, default: float, *, minimum: float = 0.0) -> float:
            return config_number(config, key, default, connection=connection, minimum=minimum)

        return cls(
            created_slack=timedelta(hours=number("created_slack_hours", DEFAULT_CREATED_SLACK_HOURS)),
            max_retries=int(number("max_retries", DEFAULT_MAX_RETRIES)),
            backoff_seconds=number("retry_backoff_seconds", DEFAULT_BACKOFF_SECONDS),
            max_backoff_seconds=number("retry_max_backoff_seconds", DEFAULT_MAX_BACKOFF_SECONDS),
            max_wait_seconds=number("retry_max_wait_seconds", DEFAULT_MAX_WAIT_SECONDS),
            timeout_seconds=number("timeout_seconds", DEFAULT_TIMEOUT_SECONDS, minimum=0.1),
            internal_domains=config_domains(config, connection=connection),
            token_url=str(config.get("oauth_token_url") or DEFAULT_TOKEN_URL),
        )


def meetings_query_range(window: TimeWindow, created_slack: timedelta) -> tuple[str, str]:
    """The `created_after` / `created_before` values that cover every meeting recorded in `window`."""
    return _iso(window.start - timedelta(seconds=1)), _iso(window.end + created_slack)


# -- errors inside one read ------------------------------------------------------------------------


class _StopReadError(Exception):
    """The retry budget is spent (or a wait is too long): end the read early, keep what arrived."""


class _AuthRejectedError(Exception):
    """401/403: the connection as a whole cannot be read."""


class _ClientError(Exception):
    """A 4xx other than 401/403/429: not retried."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


# -- HTTP with retries --------------------------------------------------------------------------------


class _FathomSession:
    """One read's HTTP client, auth and retry budget."""

    def __init__(
        self,
        request: LiveReadRequest,
        options: FathomReadOptions,
        *,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self._request = request
        self._options = options
        self._credentials: dict[str, Any] = dict(request.credentials)
        self._retry = RetryPolicy(
            budget=RetryBudget(options.max_retries),
            base_seconds=options.backoff_seconds,
            max_backoff_seconds=options.max_backoff_seconds,
            max_wait_seconds=options.max_wait_seconds,
            sleep=sleep,
            rng=rng,
        )
        self.waits: list[float] = []
        label = request.connection.label
        api_key = self._credentials.get("api_key")
        if api_key:
            self.oauth = False
            auth = {"X-Api-Key": str(api_key)}
        elif self._credentials.get("access_token"):
            self.oauth = True
            auth = {"Authorization": f"Bearer {self._credentials['access_token']}"}
        else:
            raise SourceReadError(
                f"connection {label} has neither 'api_key' nor 'access_token' in its credentials; "
                "set a Fathom API key with `headway connections set-credentials` or reconnect Fathom"
            )
        self.client = httpx.Client(
            base_url=request.base_url or DEFAULT_BASE_URL,
            headers={"Accept": "application/json", **auth},
            timeout=options.timeout_seconds,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def secrets(self) -> list[str]:
        """Every secret this read knows (the stored ones and any refreshed token)."""
        values = list(self._request.credentials.secret_values())
        values += [v for v in self._credentials.values() if isinstance(v, str) and v]
        return values

    def redact(self, text: str) -> str:
        """`text` with every secret of the connection removed."""
        return redact(text, self.secrets())

    def get_json(self, path: str, params: list[tuple[str, str]], *, validate: Callable[[Any], str | None]) -> Any:
        """GET `path` and return its JSON body; retries per the module docstring.

        `validate` returns a problem description for a body of the wrong shape (retried like
        a malformed body). Raises `_StopReadError`, `_AuthRejectedError` or `_ClientError`.
        """
        refreshed = False
        attempt = 0
        while True:
            problem: str
            wait: float | None = None
            try:
                response = self.client.get(path, params=tuple(params))
            except httpx.TransportError as error:
                problem = f"{type(error).__name__} ({error})"
            else:
                status = response.status_code
                if status in (401, 403):
                    if self.oauth and not refreshed and status == 401 and self._refresh_token():
                        refreshed = True
                        continue
                    raise _AuthRejectedError(f"HTTP {status}")
                if status == 429:
                    problem = "HTTP 429 (rate limited)"
                    wait = _rate_limit_wait(response.headers)
                elif status >= 500:
                    problem = f"HTTP {status}"
                    wait = retry_after_seconds(response.headers.get("retry-after"))
                elif status >= 400:
                    raise _ClientError(status, self.redact(response.text[:ERROR_BODY_CHARS]))
                else:
                    try:
                        body = response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        problem = f"a malformed (non-JSON) body with HTTP {status}"
                    else:
                        shape_problem = validate(body)
                        if shape_problem is None:
                            return body
                        problem = f"a malformed body ({shape_problem})"
            log = functools.partial(self._log_retry, path, problem)
            try:
                self.waits.append(self._retry.spend(attempt, wait, before_sleep=log))
            except RetryRefusedError as exc:
                if exc.wait is None:
                    raise _StopReadError(f"GET {path} kept failing ({problem}) and the retry budget is spent") from None
                raise _StopReadError(
                    f"GET {path} answered {problem} and asks to wait {exc.wait:g} s, more than "
                    f"retry_max_wait_seconds={self._options.max_wait_seconds:g}"
                ) from None
            attempt += 1

    def _log_retry(self, path: str, problem: str, wait: float) -> None:
        LOGGER.warning(
            self.redact(
                f"{self._request.connection.label}: GET {path} answered {problem}; retrying in {wait:.2f} s "
                f"({self._retry.budget.remaining} retries left)"
            )
        )

    def _refresh_token(self) -> bool:
        """Refresh an expired OAuth token; True when a new one is in place (and saved)."""
        needed = ("refresh_token", "client_id", "client_secret")
        if not all(self._credentials.get(k) for k in needed):
            return False
        try:
            response = httpx.post(
                self._options.token_url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": str(self._credentials["refresh_token"]),
                    "client_id": str(self._credentials["client_id"]),
                    "client_secret": str(self._credentials["client_secret"]),
                },
                timeout=self._options.timeout_seconds,
            )
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, json.JSONDecodeError, UnicodeDecodeError):
            return False
        if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str):
            return False
        self._credentials["access_token"] = body["access_token"]
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            self._credentials["refresh_token"] = body["refresh_token"]
        if isinstance(body.get("expires_in"), int | float):
            expires = datetime.now(UTC) + timedelta(seconds=float(body["expires_in"]))
            self._credentials["expires_at"] = _iso(expires)
        self.client.headers["Authorization"] = f"Bearer {self._credentials['access_token']}"
        if self._request.save_credentials is not None:
            self._request.save_credentials(dict(self._credentials))
        LOGGER.info(f"{self._request.connection.label}: refreshed the Fathom OAuth token")
        return True


def _rate_limit_wait(headers: httpx.Headers) -> float | None:
    """How long a 429 asks to wait: `Retry-After`, else `RateLimit-Reset` (seconds left in the window)."""
    wait = retry_after_seconds(headers.get("retry-after"))
    if wait is not None:
        return wait
    reset = headers.get("ratelimit-reset")
    if reset is None:
        return None
    try:
        return max(0.0, float(reset))
    except ValueError:
        return None


def _page_problem(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return f"expected a JSON object, got {type(body).__name__}"
    if not isinstance(body.get("items"), list):
        return "no 'items' list"
    cursor = body.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        return f"'next_cursor' is {type(cursor).__name__}, not a string"
    return None


def _transcript_problem(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return f"expected a JSON object, got {type(body).__name__}"
    transcript = body.get("transcript")
    if transcript is not None and not isinstance(transcript, list):
        return "'transcript' is not a list"
    return None


# -- resume state ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Position:
    """Where a read is in the listing: the page (by the cursor that fetched it) and the item in it."""

    created_after: str
    created_before: str
    cursor: str | None = None
    index: int = 0
    next_recording_id: str | None = None

    def to_state(self, window: TimeWindow) -> dict[str, Any]:
        return {
            "version": RESUME_STATE_VERSION,
            "window": [_iso(window.start), _iso(window.end)],
            "created_after": self.created_after,
            "created_before": self.created_before,
            "cursor": self.cursor,
            "index": self.index,
            "next_recording_id": self.next_recording_id,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], window: TimeWindow) -> _Position | None:
        """The position in a resume state of this window; None when it is empty or unusable."""
        if not state:
            return None
        try:
            usable = (
                state["version"] == RESUME_STATE_VERSION
                and list(state["window"]) == [_iso(window.start), _iso(window.end)]
                and isinstance(state["created_after"], str)
                and isinstance(state["created_before"], str)
                and (state["cursor"] is None or isinstance(state["cursor"], str))
                and isinstance(state["index"], int)
                and state["index"] >= 0
            )
        except (KeyError, TypeError):
            usable = False
        if not usable:
            return None
        rid = state.get("next_recording_id")
        return cls(
            created_after=state["created_after"],
            created_before=state["created_before"],
            cursor=state["cursor"],
            index=state["index"],
            next_recording_id=str(rid) if rid is not None else None,
        )


# -- the reader -------------------------------------------------------------------------------------------


class FathomLiveReader(LiveReader):
    """Reads one Fathom connection's meetings of a window through the External API (see module doc).

    `sleep` and `rng` are the clock and jitter source of the retry waits (the defaults are
    the real ones; tests pass a sleep that records the waits it performs).
    """

    source: ClassVar[str] = SOURCE

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.last_waits: list[float] = []

    def read(self, request: LiveReadRequest) -> ReadResult:
        """Fetch the meetings recorded inside `request.window` (see the module docstring)."""
        label = request.connection.label
        options = FathomReadOptions.from_config(request.connection.config, connection=label)
        try:
            session = _FathomSession(request, options, sleep=self._sleep, rng=self._rng)
        except CredentialsError as error:
            raise SourceReadError(str(error)) from None
        try:
            return self._read(request, options, session)
        except _AuthRejectedError as error:
            reason = TOKEN_REJECTED if session.oauth else KEY_REJECTED
            raise SourceReadError(session.redact(f"Fathom connection {label}: {reason} ({error})")) from None
        finally:
            self.last_waits = list(session.waits)
            session.close()

    def _read(self, request: LiveReadRequest, options: FathomReadOptions, session: _FathomSession) -> ReadResult:
        window = request.window
        label = request.connection.label
        cap = request.max_messages if request.max_messages and request.max_messages > 0 else None
        resumed = _Position.from_state(request.resume_state, window)
        if request.resume_state and resumed is None:
            LOGGER.warning(f"{label}: the saved resume state of {window} is not usable; reading the window anew")
        if resumed is None:
            after, before = meetings_query_range(window, options.created_slack)
            position = _Position(created_after=after, created_before=before)
        else:
            position = resumed
        base_params = [
            ("created_after", position.created_after),
            ("created_before", position.created_before),
        ]
        if not session.oauth:
            # OAuth apps cannot ask for inline transcripts (vendor-apis.md §4.0).
            base_params.append(("include_transcript", "true"))

        result = ReadResult()
        messages: dict[str, NormalisedMessage] = {}
        pages_read = 0
        cursor, start_index, expected_id = position.cursor, position.index, position.next_recording_id

        def stop_early(index: int, recording_id: str | None, why: str) -> ReadResult:
            stop_at = _Position(position.created_after, position.created_before, cursor, index, recording_id)
            result.complete = False
            result.resume_state = stop_at.to_state(window)
            LOGGER.info(session.redact(f"{label}: stopping the read of {window} early: {why}"))
            return self._finish(result, messages)

        while True:
            params = base_params + ([("cursor", cursor)] if cursor else [])
            try:
                page = session.get_json(MEETINGS_PATH, params, validate=_page_problem)
            except _StopReadError as stop:
                if pages_read == 0 and not messages:
                    raise SourceReadError(
                        session.redact(
                            f"Fathom connection {label}: nothing of {window} could be read: {stop}; "
                            "the next sync tries again (raise 'max_retries' if this keeps happening)"
                        )
                    ) from None
                return stop_early(start_index, expected_id, str(stop))
            except _ClientError as error:
                if cursor is not None and pages_read == 0 and resumed is not None:
                    # A saved cursor Fathom no longer accepts: start the window over (upserts make
                    # the repeats harmless; skipping ahead could lose meetings).
                    LOGGER.warning(f"{label}: Fathom refused the saved cursor ({error.status}); reading {window} anew")
                    cursor, start_index, expected_id, resumed = None, 0, None, None
                    continue
                raise SourceReadError(
                    session.redact(
                        f"Fathom connection {label}: GET {MEETINGS_PATH} was refused ({error}); "
                        "check the connection config (base_url) and report it if it persists"
                    )
                ) from None
            pages_read += 1
            items: list[Any] = page["items"]
            index = _start_index(items, start_index, expected_id)
            for position_in_page in range(index, len(items)):
                item = items[position_in_page]
                where = f"{MEETINGS_PATH} item {position_in_page} of the page at cursor {cursor or '(first)'}"
                if not isinstance(item, Mapping):
                    result.skip(where, f"not a Meeting object (got {type(item).__name__})")
                    continue
                recording_id = fathom_recording_id(item)
                if recording_id is not None:
                    where = f"Fathom recording {recording_id}"
                moment = fathom_meeting_time(item)
                if moment is None:
                    result.skip(where, "meeting has no recording_start_time, scheduled_start_time or created_at")
                    continue
                if not window.contains(moment):
                    continue
                if recording_id is not None and recording_id in messages:
                    result.ignored["duplicate"] = result.ignored.get("duplicate", 0) + 1
                    continue
                if cap is not None and len(messages) >= cap:
                    return stop_early(position_in_page, recording_id, f"reached the per-sync cap of {cap} messages")
                meeting: Mapping[str, Any] = item
                if recording_id is not None and (session.oauth or item.get("transcript") is None):
                    try:
                        meeting, missing = self._with_transcript(session, item, recording_id)
                    except _StopReadError as stop:
                        return stop_early(position_in_page, recording_id, str(stop))
                    if missing is not None:
                        result.skip(where, missing)
                        continue
                elif item.get("transcript") == []:
                    result.skip(where, EMPTY_TRANSCRIPT)
                    continue
                try:
                    message = parse_fathom_meeting(meeting, internal_domains=options.internal_domains)
                except FathomMeetingError as error:
                    result.skip(where, str(error))
                    continue
                messages[message.external_id] = message
            next_cursor = page.get("next_cursor")
            if not isinstance(next_cursor, str) or not next_cursor.strip():
                return self._finish(result, messages)
            cursor, start_index, expected_id = next_cursor, 0, None

    @staticmethod
    def _with_transcript(
        session: _FathomSession, meeting: Mapping[str, Any], recording_id: str
    ) -> tuple[Mapping[str, Any], str | None]:
        """The meeting with its transcript from `/recordings/{id}/transcript`, or why there is none."""
        path = f"/recordings/{recording_id}/transcript"
        try:
            body = session.get_json(path, [], validate=_transcript_problem)
        except _ClientError as error:
            if error.status == 404:
                return meeting, (
                    f"no transcript: the meeting listing had none and GET {path} answered 404 (the recording "
                    "may still be processing); the next sync of this day tries again"
                )
            return meeting, f"no transcript: GET {path} was refused ({error}); the meeting was not read"
        transcript = body.get("transcript")
        if not transcript:
            return meeting, EMPTY_TRANSCRIPT
        return {**meeting, "transcript": transcript}, None

    @staticmethod
    def _finish(result: ReadResult, messages: dict[str, NormalisedMessage]) -> ReadResult:
        result.messages = sorted(messages.values(), key=lambda m: (m.sent_at, m.external_id))
        return result


def _start_index(items: list[Any], index: int, expected_id: str | None) -> int:
    """Where to resume in a refetched page: at the saved meeting, wherever it moved to in the page."""
    if expected_id is None:
        return index
    if index < len(items) and isinstance(items[index], Mapping) and fathom_recording_id(items[index]) == expected_id:
        return index
    for found, item in enumerate(items):
        if isinstance(item, Mapping) and fathom_recording_id(item) == expected_id:
            return found
    # The meeting moved off this page: read the page again from the top rather than risk a gap.
    return 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
