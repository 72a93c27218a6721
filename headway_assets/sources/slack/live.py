"""Live Slack reader: one connection's window through the Slack Web API with slack-sdk's `WebClient`.

What it reads (vendor-apis.md §1):

- the channels: `config["channels"]` (channel ids the organisation selected) or, without a
  selection, every public/private channel the bot is a member of (`conversations.list`);
- per channel, `conversations.history` with `oldest`/`latest` = the window (inclusive, then
  filtered to `[start, end)`), cursor-paged, newest first;
- thread replies through `conversations.replies` (bounded to the window) for every parent
  with replies in the window. History only lists parents, so a reply inside the window whose
  parent is older would be missed: the reader therefore also scans the history of the
  `thread_lookback_days` (default 7) before the window for parents whose `latest_reply` is
  inside or after the window start. **Limit:** a reply in the window to a parent older than
  the look-back is not found by a daily sync (raise `thread_lookback_days` to cover it);
- authors through `users.info`, cached per read; a channel's members through
  `conversations.members` (they decide the customer of a shared channel, as in the export).

Each message goes through the export reader's `SlackMessageNormaliser`, so a live message
and the same message from an export are identical. Rate limits (HTTP 429 with `Retry-After`)
and 5xx answers are retried by slack-sdk's retry handlers within a per-request count and a
per-read budget, waiting as the shared retry policy says (core/retry.py, the same as
every live source; `retry_jitter_seconds` adds up to that much to each wait, `Retry-After`
too, and the backoff never exceeds `max_retry_wait_seconds`); when that is exhausted the
read returns what it has with `complete=False` and a resume state. The per-sync cap works
the same way. A resume state records the channels finished and, inside the current channel,
the phase (history, look-back, threads), the oldest `ts` processed (history is newest first)
or the newest reply `ts` processed, and the thread parents still to read, so repeated runs
continue exactly where the last stopped.
(A message posted into an already-passed part of the window while a capped sequence is under
way is picked up by the next full sync of the partition, which starts from the beginning.)

Connection config keys (all optional): `channels`, `base_url`, `team_id`, `workspace_url`,
`internal_domains`, `client_id`, `page_size` (200), `thread_lookback_days` (7),
`max_retry_count` (3 per request), `retry_budget` (20 per read), `max_retry_wait_seconds`
(60: a longer `Retry-After` ends the read instead of blocking it), `retry_backoff_seconds`
(0.5), `retry_jitter_seconds` (1.0), `timeout_seconds` (30).
Credentials: `bot_token`, plus `refresh_token`/`expires_at` (epoch seconds) when the app
uses token rotation; refreshing needs the client id (`config["client_id"]` or
`SLACK_CLIENT_ID`) and secret (`credentials["client_secret"]` or `SLACK_CLIENT_SECRET`).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RetryHandler, RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest as RetryHttpRequest
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from headway_assets.core.credentials import Credentials, CredentialsError, redact
from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.core.retry import RetryBudget, RetryPolicy
from headway_assets.core.settings import get_settings
from headway_assets.sources.live.base import LiveReader, LiveReadRequest
from headway_assets.sources.live.config import config_domains, config_integer, config_number
from headway_assets.sources.people import normalise_domains
from headway_assets.sources.slack import SOURCE
from headway_assets.sources.slack.messages import (
    SlackConversation,
    SlackMessageNormaliser,
    SlackUser,
    slack_ts,
    slack_ts_datetime,
    slack_user,
)

DEFAULT_BASE_URL = "https://slack.com/api/"
CLIENT_ID_ENV = "SLACK_CLIENT_ID"
CLIENT_SECRET_ENV = "SLACK_CLIENT_SECRET"

DEFAULT_PAGE_SIZE = 200
DEFAULT_THREAD_LOOKBACK_DAYS = 7
DEFAULT_MAX_RETRY_COUNT = 3
DEFAULT_RETRY_BUDGET = 20
DEFAULT_MAX_RETRY_WAIT_S = 60.0
DEFAULT_RETRY_BACKOFF_S = 0.5
DEFAULT_RETRY_JITTER_S = 1.0
DEFAULT_TIMEOUT_S = 30
# Refresh a rotating token this long before it expires, so it cannot lapse mid-read.
REFRESH_MARGIN = timedelta(minutes=2)
RESUME_STATE_VERSION = 1

# The connection as a whole is unusable: the app must be reinstalled.
AUTH_ERRORS: frozenset[str] = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "no_permission",
        "org_login_required",
        "team_access_not_granted",
        "not_allowed_token_type",
        "team_added_to_org",
    }
)
# One channel cannot be read; the others can.
CHANNEL_ERRORS: frozenset[str] = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "channel_is_limited_access",
        "restricted_action",
        "method_not_supported_for_channel_type",
    }
)
# Slack is busy or broken right now: stop and resume on the next run.
TRANSIENT_ERRORS: frozenset[str] = frozenset(
    {"ratelimited", "accesslimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
AUTH_ERROR_MEANING: dict[str, str] = {
    "token_revoked": "the app was uninstalled or its token revoked",
    "invalid_auth": "the stored token is not valid for this workspace",
    "not_authed": "no token reached Slack",
    "account_inactive": "the app's bot user was deactivated",
    "token_expired": "the rotating token expired and could not be refreshed",
}
NON_JSON_PREFIX = "Received a response in a non-JSON format"
CHANNEL_ERROR_ADVICE: dict[str, str] = {
    "not_in_channel": "the Headway app is not a member of this channel; invite it (/invite @Headway) "
    "or remove the channel from the connection's selection",
    "channel_not_found": "the channel does not exist or the app cannot see it (private channels need the app "
    "invited); check the connection's channel selection",
}

logger = logging.getLogger(__name__)


class _TransientError(Exception):
    """Slack could not answer now (rate limit or server trouble beyond the retry budget)."""


class _ChannelError(Exception):
    """One channel (or thread) cannot be read: `code` is Slack's error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _ApiError(Exception):
    """Slack refused a call with an error code not classified above."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _CapReachedError(Exception):
    """The per-sync cap was reached."""


# -- retry handlers ----------------------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """The `Retry-After` header of an answer's `headers`, in whole seconds (None when absent or not a number)."""
    for name, values in (headers or {}).items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) and values else values
            try:
                # Slack sends integers; slack-sdk's own handler crashes on anything else, this one rounds up.
                seconds = float(str(value))
            except ValueError:
                return None
            return float(math.ceil(seconds)) if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _retry_after_seconds(response: RetryHttpResponse | None) -> float | None:
    """The `Retry-After` header in seconds (None when absent or not a number)."""
    return None if response is None else retry_after_seconds(response.headers)


class _PolicyIntervals(RetryIntervalCalculator):
    """slack-sdk's interval hook answered by the shared retry policy (exponential backoff with jitter)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return self.policy.backoff(current_attempt)


class _PolicyRetryHandler(RetryHandler):
    """A slack-sdk retry handler whose retries spend the read's shared policy and wait as it says.

    Subclasses say which answers are worth retrying (`_retryable`); the budget, the longest
    wait, `Retry-After` and the backoff are the policy's, the same as every other live source.
    """

    def __init__(self, *, policy: RetryPolicy, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count, interval_calculator=_PolicyIntervals(policy))
        self.policy = policy

    def _retryable(self, response: RetryHttpResponse | None, error: Exception | None) -> bool:
        raise NotImplementedError

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return self._retryable(response, error) and self.policy.take(_retry_after_seconds(response))

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.policy.sleep(self.policy.wait(state.current_attempt, _retry_after_seconds(response)))
        state.increment_current_attempt()


class BudgetedRateLimitRetryHandler(_PolicyRetryHandler):
    """Retries a 429, honouring `Retry-After` (fractional values rounded up), within the shared policy.

    A `Retry-After` longer than the policy's longest wait is not waited out: the read ends and
    the next run resumes (a 1-request-a-minute method must not stall a whole pipeline run).
    """

    def _retryable(self, response: RetryHttpResponse | None, error: Exception | None) -> bool:
        return response is not None and response.status_code == 429


class BudgetedServerErrorRetryHandler(_PolicyRetryHandler):
    """Retries any 5xx answer, within the shared policy."""

    def _retryable(self, response: RetryHttpResponse | None, error: Exception | None) -> bool:
        return response is not None and response.status_code >= 500


class BudgetedConnectionErrorRetryHandler(_PolicyRetryHandler, ConnectionErrorRetryHandler):
    """Retries what slack-sdk's connection-error handler retries, within the shared policy."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: RetryHttpRequest,
        response: RetryHttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # slack-sdk's own handler knows which errors are connection errors; the policy decides the rest.
        retryable = ConnectionErrorRetryHandler._can_retry(
            self, state=state, request=request, response=response, error=error
        )
        return retryable and self.policy.take()


class BudgetedMalformedBodyRetryHandler(_PolicyRetryHandler):
    """Retries an answer whose body is not JSON (a proxy's error page, a cut-off body), within the policy.

    slack-sdk's own handlers leave these alone: a 200 with an HTML body becomes a SlackApiError
    and a body that starts like JSON but breaks raises JSONDecodeError.
    """

    def _retryable(self, response: RetryHttpResponse | None, error: Exception | None) -> bool:
        if isinstance(error, json.JSONDecodeError):
            return True
        if response is None or response.status_code != 200 or response.body:
            return False
        try:
            json.loads(response.data or b"")
        except ValueError:
            return True
        return False


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackReadSettings:
    """The connection-config settings of a Slack read, validated."""

    base_url: str = DEFAULT_BASE_URL
    channels: tuple[str, ...] | None = None
    team_id: str | None = None
    workspace_url: str | None = None
    internal_domains: tuple[str, ...] = ()
    client_id: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    thread_lookback_days: float = DEFAULT_THREAD_LOOKBACK_DAYS
    max_retry_count: int = DEFAULT_MAX_RETRY_COUNT
    retry_budget: int = DEFAULT_RETRY_BUDGET
    max_retry_wait_seconds: float = DEFAULT_MAX_RETRY_WAIT_S
    retry_backoff_seconds: float = DEFAULT_RETRY_BACKOFF_S
    retry_jitter_seconds: float = DEFAULT_RETRY_JITTER_S
    timeout_seconds: int = DEFAULT_TIMEOUT_S

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base_url: str | None, label: str) -> SlackReadSettings:
        """Validate a connection's config; a bad value is a `SourceReadError` naming the key."""

        def number(key: str, default: float, *, minimum: float, integer: bool = False) -> Any:
            if integer:
                return config_integer(config, key, int(default), connection=label, minimum=int(minimum))
            return config_number(config, key, default, connection=label, minimum=minimum)

        channels = config.get("channels")
        if channels is not None and (
            not isinstance(channels, list) or not all(isinstance(c, str) and c.strip() for c in channels)
        ):
            raise SourceReadError(
                f"Slack connection {label}: config 'channels' must be a list of channel ids (like \"C0123ABCD\"), "
                f"got {channels!r}; fix the selection or remove it to read every channel the app is in"
            )
        return cls(
            base_url=base_url or DEFAULT_BASE_URL,
            channels=tuple(c.strip() for c in channels) if channels is not None else None,
            team_id=str(config["team_id"]) if config.get("team_id") else None,
            workspace_url=str(config["workspace_url"]) if config.get("workspace_url") else None,
            internal_domains=normalise_domains(config_domains(config, connection=label)),
            client_id=str(config["client_id"]) if config.get("client_id") else None,
            page_size=number("page_size", DEFAULT_PAGE_SIZE, minimum=1, integer=True),
            thread_lookback_days=number("thread_lookback_days", DEFAULT_THREAD_LOOKBACK_DAYS, minimum=0),
            max_retry_count=number("max_retry_count", DEFAULT_MAX_RETRY_COUNT, minimum=0, integer=True),
            retry_budget=number("retry_budget", DEFAULT_RETRY_BUDGET, minimum=0, integer=True),
            max_retry_wait_seconds=number("max_retry_wait_seconds", DEFAULT_MAX_RETRY_WAIT_S, minimum=0),
            retry_backoff_seconds=number("retry_backoff_seconds", DEFAULT_RETRY_BACKOFF_S, minimum=0),
            retry_jitter_seconds=number("retry_jitter_seconds", DEFAULT_RETRY_JITTER_S, minimum=0),
            timeout_seconds=number("timeout_seconds", DEFAULT_TIMEOUT_S, minimum=1, integer=True),
        )


# -- logging without secrets -------------------------------------------------------------------


class _RedactingFilter(logging.Filter):
    """Removes every known secret from a record before any handler sees it."""

    def __init__(self, secrets: Callable[[], list[str]]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets())
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def sdk_logger(secrets: Callable[[], list[str]]) -> logging.Logger:
    """A logger for slack-sdk clients that never emits a secret.

    At INFO, slack-sdk skips its DEBUG dumps of request bodies and responses (which would
    hold OAuth codes and tokens); what it still logs passes through a redacting filter. The
    logger is private to one client and forwards to this module's logger.
    """
    sdk = logging.Logger(f"{__name__}.sdk", level=logging.INFO)
    sdk.parent = logger
    sdk.addFilter(_RedactingFilter(secrets))
    return sdk


def build_web_client(
    *,
    token: str | None,
    base_url: str | None,
    budget: RetryBudget,
    max_retry_count: int = DEFAULT_MAX_RETRY_COUNT,
    max_retry_wait_seconds: float = DEFAULT_MAX_RETRY_WAIT_S,
    retry_backoff_seconds: float = DEFAULT_RETRY_BACKOFF_S,
    retry_jitter_seconds: float = DEFAULT_RETRY_JITTER_S,
    timeout_seconds: int = DEFAULT_TIMEOUT_S,
    secrets: Callable[[], list[str]] = list,
) -> WebClient:
    """A slack-sdk `WebClient` with rate-limit, server-error, connection and malformed-body retry handlers.

    Every handler spends `budget` through the shared retry policy (core/retry.py).
    """
    policy = RetryPolicy(
        budget=budget,
        base_seconds=retry_backoff_seconds,
        max_backoff_seconds=max_retry_wait_seconds,
        max_wait_seconds=max_retry_wait_seconds,
        extra_jitter_seconds=retry_jitter_seconds,
    )
    handlers: list[RetryHandler] = [
        BudgetedRateLimitRetryHandler(policy=policy, max_retry_count=max_retry_count),
        BudgetedServerErrorRetryHandler(policy=policy, max_retry_count=max_retry_count),
        BudgetedConnectionErrorRetryHandler(policy=policy, max_retry_count=max_retry_count),
        BudgetedMalformedBodyRetryHandler(policy=policy, max_retry_count=max_retry_count),
    ]
    return WebClient(
        token=token,
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=timeout_seconds,
        retry_handlers=handlers,
        logger=sdk_logger(secrets),
    )


# -- resume state ------------------------------------------------------------------------------

PHASE_HISTORY = "history"
PHASE_LOOKBACK = "lookback"
PHASE_THREADS = "threads"
PHASES = (PHASE_HISTORY, PHASE_LOOKBACK, PHASE_THREADS)


@dataclass
class ChannelProgress:
    """How far the read of one channel got.

    history / lookback: every message with `ts >= before` is done (history is newest first);
    threads: `threads` are the parents still to read, and of the first one every reply with
    `ts <= after` is done.
    """

    channel: str
    phase: str = PHASE_HISTORY
    before: str | None = None
    threads: list[str] = field(default_factory=list)
    after: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form for the resume state."""
        return {
            "channel": self.channel,
            "phase": self.phase,
            "before": self.before,
            "threads": list(self.threads),
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: Any) -> ChannelProgress | None:
        """Parse a stored progress; None when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("channel"), str) or data.get("phase") not in PHASES:
            return None
        threads = data.get("threads") or []
        if not isinstance(threads, list) or not all(isinstance(t, str) and slack_ts(t) for t in threads):
            return None
        before, after = data.get("before"), data.get("after")
        if (before is not None and not slack_ts(before)) or (after is not None and not slack_ts(after)):
            return None
        return cls(data["channel"], data["phase"], before, [str(t) for t in threads], after)


def _window_key(window: TimeWindow) -> list[str]:
    return [window.start.isoformat(), window.end.isoformat()]


# -- the reader --------------------------------------------------------------------------------


class SlackLiveReader(LiveReader):
    """Reads a Slack connection's window from the Web API (see the module docstring)."""

    source: ClassVar[str] = SOURCE

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def read(self, request: LiveReadRequest) -> ReadResult:
        """Fetch the window (see `LiveReader.read` for the contract)."""
        return _SlackRead(request, self.clock).run()


def _ts_of(moment: datetime) -> str:
    """The Slack ts string of an instant."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = delta // timedelta(seconds=1)
    micros = (delta - timedelta(seconds=seconds)) // timedelta(microseconds=1)
    return f"{seconds}.{micros:06d}"


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


class _Users(Mapping[str, SlackUser]):
    """Workspace members fetched with `users.info` on first use, cached for the read."""

    def __init__(self, read: _SlackRead) -> None:
        self._read = read
        self._cache: dict[str, SlackUser | None] = {}

    def __getitem__(self, user_id: str) -> SlackUser:
        if user_id not in self._cache:
            try:
                response = self._read.call("users.info", user=user_id)
                entry = response.get("user")
                self._cache[user_id] = slack_user(entry) if isinstance(entry, dict) and entry.get("id") else None
            except _ApiError as failure:
                if failure.code not in ("user_not_found", "user_not_visible"):
                    raise
                self._cache[user_id] = None
        user = self._cache[user_id]
        if user is None:
            raise KeyError(user_id)
        return user

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, v in self._cache.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for v in self._cache.values() if v is not None)


class _ChannelNames(Mapping[str, str]):
    """Channel names for `<#C…>` mentions: the channels already seen, else `conversations.info`."""

    def __init__(self, read: _SlackRead) -> None:
        self._read = read

    def __getitem__(self, channel_id: str) -> str:
        info = self._read.channel_info(channel_id, quiet=True)
        name = info.get("name") if info else None
        if not isinstance(name, str) or not name:
            raise KeyError(channel_id)
        return name

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._read.channel_objects))

    def __len__(self) -> int:
        return len(self._read.channel_objects)


class _SlackRead:
    """One read of one connection's window."""

    def __init__(self, request: LiveReadRequest, clock: Callable[[], datetime]) -> None:
        self.request = request
        self.clock = clock
        self.connection = request.connection
        self.label = request.connection.label
        self.window = request.window
        self.settings = SlackReadSettings.from_config(
            request.connection.config, base_url=request.base_url, label=self.label
        )
        self.credentials: dict[str, Any] = dict(request.credentials)
        self._secrets: list[str] = list(request.credentials.secret_values())
        app = get_settings().slack
        env_secret = app.client_secret.get_secret_value() if app.client_secret else ""
        if env_secret:
            self._secrets.append(env_secret)
        self.budget = RetryBudget(self.settings.retry_budget)
        try:
            token = Credentials(self.credentials).require("bot_token", connection=self.label)
        except CredentialsError as error:
            raise SourceReadError(f"{error} (install the Slack app for this organisation)") from None
        self.client = self._client(token)
        self.refreshed = False
        self.result = ReadResult()
        self.channel_objects: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, SlackConversation] = {}
        self.users = _Users(self)
        self.normaliser: SlackMessageNormaliser | None = None
        self.start_ts = _ts_of(self.window.start)
        self.end_ts = _ts_of(self.window.end)
        self.progressed = False
        self.cap = request.max_messages

    # -- plumbing ----------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """Every secret this read knows (for redaction)."""
        return self._secrets

    def _client(self, token: str | None) -> WebClient:
        s = self.settings
        return build_web_client(
            token=token,
            base_url=s.base_url,
            budget=self.budget,
            max_retry_count=s.max_retry_count,
            max_retry_wait_seconds=s.max_retry_wait_seconds,
            retry_backoff_seconds=s.retry_backoff_seconds,
            retry_jitter_seconds=s.retry_jitter_seconds,
            timeout_seconds=s.timeout_seconds,
            secrets=self.secrets,
        )

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def call(self, method: str, **arguments: Any) -> SlackResponse:
        """One Web API call, its failure classified (auth → SourceReadError, busy → _TransientError, ...)."""
        try:
            # The SDK's typed method (conversations_history, users_info, ...) for the API method.
            response: SlackResponse = getattr(self.client, method.replace(".", "_"))(**arguments)
            return response
        except SlackApiError as error:
            code = slack_error_code(error)
            status = error.response.status_code
            # slack-sdk turns a non-JSON body into an "error" quoting the body: never repeat that.
            unreadable = code.startswith(NON_JSON_PREFIX)
            detail = "an unreadable body" if unreadable else code
            if status == 429 or code == "ratelimited":
                raise _TransientError(f"Slack rate-limited {method} beyond the retry budget") from None
            if status >= 500 or code in TRANSIENT_ERRORS:
                raise _TransientError(self._clean(f"Slack answered {method} with HTTP {status} ({detail})")) from None
            if status != 200 or unreadable:
                raise _TransientError(self._clean(f"Slack answered {method} with HTTP {status} and {detail}")) from None
            if code in AUTH_ERRORS:
                if code == "token_expired" and self._refresh(forced=True):
                    return self.call(method, **arguments)
                raise SourceReadError(
                    f"Slack connection {self.label}: the bot token was refused ({code}: "
                    f"{AUTH_ERROR_MEANING.get(code, 'the token is not accepted')}). Reinstall the Slack app for "
                    "this organisation (Headway > Connections > Slack > Install) and the next sync reads the window."
                ) from None
            if code == "missing_scope":
                needed = error.response.get("needed") if isinstance(error.response.data, dict) else None
                raise SourceReadError(
                    f"Slack connection {self.label}: the app lacks the scope {needed or '(not named)'} for "
                    f"{method}; reinstall the Slack app so it is granted the read scopes."
                ) from None
            if code in CHANNEL_ERRORS or code == "thread_not_found":
                raise _ChannelError(code) from None
            raise _ApiError(self._clean(code[:120])) from None
        except json.JSONDecodeError:
            raise _TransientError(f"Slack answered {method} with a malformed JSON body") from None
        except (URLError, OSError, http.client.HTTPException) as error:
            raise _TransientError(self._clean(f"cannot reach Slack for {method}: {type(error).__name__}")) from None

    def _refresh(self, *, forced: bool) -> bool:
        """Renew a rotating token when it has expired (or Slack says so); False when it cannot be."""
        refresh_token = self.credentials.get("refresh_token")
        if not refresh_token or self.refreshed:
            return False
        expires_at = self.credentials.get("expires_at")
        if not forced:
            if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
                return False
            if self.clock() < datetime.fromtimestamp(expires_at, UTC) - REFRESH_MARGIN:
                return False
        app = get_settings().slack
        client_id = self.settings.client_id or app.client_id
        client_secret = self.credentials.get("client_secret") or (
            app.client_secret.get_secret_value() if app.client_secret else None
        )
        if not client_id or not client_secret:
            raise SourceReadError(
                f"Slack connection {self.label}: the bot token expired and cannot be refreshed because "
                f"{CLIENT_ID_ENV} / {CLIENT_SECRET_ENV} are not set; set them (from the Slack app's Basic "
                "Information page) or reinstall the Slack app."
            )
        self._secrets.append(str(client_secret))
        self.refreshed = True
        oauth = self._client(None)
        try:
            response = oauth.oauth_v2_access(
                client_id=str(client_id),
                client_secret=str(client_secret),
                grant_type="refresh_token",
                refresh_token=str(refresh_token),
            )
        except SlackApiError as error:
            raise SourceReadError(
                f"Slack connection {self.label}: refreshing the bot token failed ({slack_error_code(error)}); "
                "reinstall the Slack app for this organisation."
            ) from None
        except (json.JSONDecodeError, URLError, OSError, http.client.HTTPException) as error:
            raise SourceReadError(
                f"Slack connection {self.label}: refreshing the bot token failed ({type(error).__name__}: "
                "Slack could not be reached); the next sync tries again."
            ) from None
        token = response.get("access_token")
        if not isinstance(token, str) or not token:
            raise SourceReadError(
                f"Slack connection {self.label}: Slack's token refresh answer has no access_token; "
                "reinstall the Slack app."
            )
        updated = dict(self.credentials)
        updated["bot_token"] = token
        if response.get("refresh_token"):
            updated["refresh_token"] = str(response["refresh_token"])
        expires_in = response.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            updated["expires_at"] = int(self.clock().timestamp() + expires_in)
        self._secrets.extend(v for v in (updated["bot_token"], updated.get("refresh_token")) if isinstance(v, str))
        self.credentials = updated
        # Persist first: Slack invalidates the old refresh token once the new one is used.
        if self.request.save_credentials is not None:
            self.request.save_credentials(updated)
        self.client.token = token
        logger.info("%s: refreshed the rotating Slack bot token", self.label)
        return True

    # -- channels ----------------------------------------------------------------------------

    def channel_info(self, channel_id: str, *, quiet: bool = False) -> dict[str, Any] | None:
        """The channel object (from `conversations.list` or `conversations.info`), cached."""
        if channel_id in self.channel_objects:
            return self.channel_objects[channel_id]
        try:
            channel = self.call("conversations.info", channel=channel_id).get("channel")
        except (_ChannelError, _ApiError):
            if quiet:
                return None
            raise
        if not isinstance(channel, dict):
            if quiet:
                return None
            raise _ApiError("conversations.info answered without a channel object")
        self.channel_objects[channel_id] = channel
        return channel

    def _selected_channels(self) -> list[str]:
        if self.settings.channels is not None:
            return list(dict.fromkeys(self.settings.channels))
        found: list[str] = []
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "types": "public_channel,private_channel",
                "exclude_archived": True,
                "limit": 200,
            }
            if cursor:
                arguments["cursor"] = cursor
            response = self.call("conversations.list", **arguments)
            for channel in response.get("channels") or []:
                if isinstance(channel, dict) and isinstance(channel.get("id"), str):
                    self.channel_objects[channel["id"]] = channel
                    if channel.get("is_member"):
                        found.append(channel["id"])
            cursor = _next_cursor(response)
            if not cursor:
                return found

    def _members(self, channel_id: str) -> list[str]:
        members: list[str] = []
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {"channel": channel_id, "limit": 200}
            if cursor:
                arguments["cursor"] = cursor
            response = self.call("conversations.members", **arguments)
            members.extend(str(m) for m in response.get("members") or [])
            cursor = _next_cursor(response)
            if not cursor:
                return members

    def conversation(self, channel_id: str) -> SlackConversation:
        """The channel as the normaliser sees it (name, kind, the customer of a shared channel)."""
        if channel_id in self.conversations:
            return self.conversations[channel_id]
        channel = self.channel_info(channel_id) or {}
        members = self._members(channel_id)
        normaliser = self._normaliser()
        customer = normaliser.members_company(members)
        if channel.get("is_im"):
            kind = "im"
            name = "dm:" + normaliser.dm_name(members or ([str(channel["user"])] if channel.get("user") else []))
        else:
            if channel.get("is_mpim"):
                kind = "mpim"
            elif channel.get("is_private") or channel.get("is_group"):
                kind = "private_channel"
            else:
                kind = "public_channel"
            name = str(channel.get("name") or channel_id)
        conversation = SlackConversation(channel_id, name, kind, channel_id, customer)
        self.conversations[channel_id] = conversation
        return conversation

    def _normaliser(self) -> SlackMessageNormaliser:
        if self.normaliser is None:
            home_team = self.settings.team_id
            if home_team is None:
                team = self.call("auth.test").get("team_id")
                home_team = str(team) if team else None
            self.normaliser = SlackMessageNormaliser(
                users=self.users,
                channel_names=_ChannelNames(self),
                home_team=home_team,
                internal_domains=self.settings.internal_domains,
                workspace_url=self.settings.workspace_url,
                result=self.result,
            )
        return self.normaliser

    # -- the read ----------------------------------------------------------------------------

    def _restore(self) -> tuple[set[str], ChannelProgress | None]:
        state = self.request.resume_state or {}
        if not state:
            return set(), None
        if state.get("version") != RESUME_STATE_VERSION or state.get("window") != _window_key(self.window):
            logger.warning(
                "%s: ignoring a resume state of another version or window; reading from the start", self.label
            )
            return set(), None
        done = state.get("done") or []
        current = ChannelProgress.from_json(state.get("current")) if state.get("current") else None
        if not isinstance(done, list) or (state.get("current") and current is None):
            logger.warning("%s: ignoring an unreadable resume state; reading the window from the start", self.label)
            return set(), None
        return {str(c) for c in done}, current

    def run(self) -> ReadResult:
        """Read every selected channel; stop early at the cap or when Slack stays busy."""
        done, current = self._restore()
        try:
            self._refresh(forced=False)
            channels = self._selected_channels()
        except _TransientError as error:
            raise SourceReadError(
                f"Slack connection {self.label}: {error}; nothing could be read this time, the next sync tries again."
            ) from None
        except (_ApiError, _ChannelError) as error:
            raise SourceReadError(
                f"Slack connection {self.label}: listing the channels failed ({error}); check the app's scopes "
                "or reinstall it."
            ) from None
        order = [c for c in channels if c not in done]
        if current is not None and current.channel in order:
            order.remove(current.channel)
            order.insert(0, current.channel)
        else:
            current = None
        progress: ChannelProgress | None = None
        try:
            for channel_id in order:
                progress = current if current is not None and current.channel == channel_id else None
                progress = progress or ChannelProgress(channel_id)
                if self._read_channel(progress):
                    done.add(channel_id)
                    self.progressed = True
                progress = None
        except _CapReachedError:
            return self._stopped(done, progress, reason=None)
        except _TransientError as error:
            return self._stopped(done, progress, reason=str(error))
        self.result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
        return self.result

    def _stopped(self, done: set[str], progress: ChannelProgress | None, *, reason: str | None) -> ReadResult:
        if reason is not None and not self.result.messages and not self.progressed:
            raise SourceReadError(
                f"Slack connection {self.label}: {reason}; nothing could be read this time, the next sync tries again."
            )
        if reason is not None:
            logger.warning("%s: stopping early: %s; the next sync resumes", self.label, reason)
        self.result.complete = False
        self.result.resume_state = {
            "version": RESUME_STATE_VERSION,
            "window": _window_key(self.window),
            "done": sorted(done),
            "current": progress.to_json() if progress is not None else None,
        }
        self.result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
        return self.result

    def _read_channel(self, progress: ChannelProgress) -> bool:
        """Read one channel from `progress` on; True when it is finished, False when it was skipped."""
        channel_id = progress.channel
        try:
            if progress.phase == PHASE_HISTORY:
                self._history(progress, oldest=self.start_ts, latest=progress.before or self.end_ts, lookback=False)
                progress.phase, progress.before = PHASE_LOOKBACK, None
                self.progressed = True
            if progress.phase == PHASE_LOOKBACK:
                if self.settings.thread_lookback_days > 0:
                    oldest = _ts_of(self.window.start - timedelta(days=self.settings.thread_lookback_days))
                    self._history(progress, oldest=oldest, latest=progress.before or self.start_ts, lookback=True)
                progress.phase, progress.before = PHASE_THREADS, None
                self.progressed = True
            while progress.threads:
                self._thread(progress)
                progress.threads.pop(0)
                progress.after = None
                self.progressed = True
            return True
        except _ChannelError as failure:
            self.result.skip(self._channel_location(channel_id), self._channel_reason(failure.code))
        except _ApiError as failure:
            self.result.skip(
                self._channel_location(channel_id),
                f"Slack refused to read the channel ({failure.code}); it is retried on the next sync",
            )
        return False

    def _channel_location(self, channel_id: str) -> str:
        known = self.channel_objects.get(channel_id, {}).get("name")
        return f"slack channel {channel_id}" + (f" (#{known})" if known else "")

    @staticmethod
    def _channel_reason(code: str) -> str:
        advice = CHANNEL_ERROR_ADVICE.get(code, "the channel cannot be read with the app's access")
        return f"{code}: {advice}"

    def _pages(self, method: str, **arguments: Any) -> Iterator[list[Any]]:
        cursor: str | None = None
        while True:
            page_arguments = dict(arguments)
            if cursor:
                page_arguments["cursor"] = cursor
            response = self.call(method, **page_arguments)
            messages = response.get("messages")
            yield messages if isinstance(messages, list) else []
            cursor = _next_cursor(response)
            if not cursor:
                return

    def _history(self, progress: ChannelProgress, *, oldest: str, latest: str, lookback: bool) -> None:
        """Page through history between `oldest` and `latest` (inclusive), newest first."""
        boundary = _ts_key(self.start_ts)
        before = _ts_key(progress.before) if progress.before else None
        for page in self._pages(
            "conversations.history",
            channel=progress.channel,
            oldest=oldest,
            latest=latest,
            inclusive=True,
            limit=self.settings.page_size,
        ):
            for raw in page:
                ts = slack_ts(raw.get("ts")) if isinstance(raw, dict) else None
                if ts is None:
                    if not lookback:
                        self.result.skip(
                            f"slack channel {progress.channel} history",
                            f"message without a valid 'ts' ({raw.get('ts') if isinstance(raw, dict) else raw!r})",
                        )
                    continue
                key = _ts_key(ts)
                if before is not None and key >= before:
                    continue  # done in an earlier run (the inclusive `latest` repeats it)
                if lookback and key >= boundary:
                    continue
                if not lookback:
                    self._take(progress.channel, raw, ts, location=f"slack channel {progress.channel} ts {ts}")
                if _has_window_replies(raw, ts, boundary):
                    progress.threads.append(ts)
                progress.before, before = ts, key
                self.progressed = True

    def _thread(self, progress: ChannelProgress) -> None:
        """Read the window's replies of the first pending thread, oldest first."""
        parent = progress.threads[0]
        after = _ts_key(progress.after) if progress.after else None
        try:
            for page in self._pages(
                "conversations.replies",
                channel=progress.channel,
                ts=parent,
                oldest=progress.after or self.start_ts,
                latest=self.end_ts,
                inclusive=True,
                limit=self.settings.page_size,
            ):
                for raw in page:
                    ts = slack_ts(raw.get("ts")) if isinstance(raw, dict) else None
                    if ts is None:
                        self.result.skip(
                            f"slack channel {progress.channel} thread {parent}",
                            f"reply without a valid 'ts' ({raw.get('ts') if isinstance(raw, dict) else raw!r})",
                        )
                        continue
                    if ts == parent or (after is not None and _ts_key(ts) <= after):
                        continue
                    self._take(progress.channel, raw, ts, location=f"slack channel {progress.channel} ts {ts}")
                    progress.after, after = ts, _ts_key(ts)
                    self.progressed = True
        except _ChannelError as failure:
            if failure.code != "thread_not_found":
                raise
            self.result.skip(
                f"slack channel {progress.channel} thread {parent}",
                "thread_not_found: the thread was deleted after its parent was listed; its replies were not read",
            )

    def _take(self, channel_id: str, raw: dict[str, Any], ts: str, *, location: str) -> None:
        """Normalise one message of the window (a no-op outside it); raises `_CapReachedError` at the cap."""
        sent_at = slack_ts_datetime(ts)
        if sent_at is None or not self.window.contains(sent_at):
            return
        message: NormalisedMessage | None = self._normaliser().normalise(
            self.conversation(channel_id), raw, ts, sent_at, location=location
        )
        if message is None:
            return
        if self.cap is not None and len(self.result.messages) >= self.cap:
            raise _CapReachedError()
        self.result.messages.append(message)


def _has_window_replies(raw: dict[str, Any], ts: str, boundary: tuple[int, int]) -> bool:
    """True for a thread parent whose replies may fall in the window (latest reply at or after its start)."""
    thread_ts = slack_ts(raw.get("thread_ts"))
    reply_count = raw.get("reply_count")
    if thread_ts != ts or not isinstance(reply_count, int) or isinstance(reply_count, bool) or reply_count <= 0:
        return False
    latest_reply = slack_ts(raw.get("latest_reply"))
    return latest_reply is None or _ts_key(latest_reply) >= boundary


def _next_cursor(response: SlackResponse) -> str | None:
    metadata = response.get("response_metadata")
    cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
    if not cursor:
        cursor = response.get("next_cursor")
    return str(cursor) if cursor else None


def slack_error_code(error: SlackApiError) -> str:
    """Slack's error code of a refused call (`channel_not_found`, ...), or `unknown_error`."""
    data = error.response.data if error.response is not None else None
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return "unknown_error"
