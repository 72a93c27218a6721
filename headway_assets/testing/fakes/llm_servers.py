"""Local fake Anthropic and OpenAI servers that the real SDKs talk to through `base_url`.

    with FakeAnthropicServer(responder=my_responder) as server:
        client = anthropic.Anthropic(**server.client_kwargs())
        message = client.messages.create(...)
        assert server.stats().calls_by_endpoint["/v1/messages"] == 1

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(**server.client_kwargs())
        completion = client.chat.completions.parse(..., response_format=MyModel)

What they serve (wire formats checked against anthropic 2.14 and openai 3.57):
- Anthropic `POST /v1/messages`: tool use (`tools`, `tool_choice`), structured outputs
  (`output_config.format`), plain text; prompt-caching usage from `cache_control`
  breakpoints (tools, system blocks, message blocks, or the top-level `cache_control`).
- OpenAI `POST /v1/chat/completions` (json_schema / json_object response formats,
  function tools) and `POST /v1/responses` (`text.format`, function tools), with automatic
  prompt caching reported in `cached_tokens`.

The structured answer comes from a *responder*: a callable that receives the parsed
`LLMRequest` and returns the JSON value for the tool input / JSON content (or a `str` to
answer with text instead). `default_responder` builds a schema-valid answer for any schema.

Faults are rules (`add_fault`) matched per request, in order, each with an optional budget
(`times`) and predicate; the server-wide `latency_s` applies to every answered request.
An outage (`start_outage`) answers every request with its faults in turn (e.g. 429 with
retry-after, then 503) for a number of seconds of wall time, as a provider that is down
for a minute; it goes before the rules.
Token counts are estimated as ceil(characters / 4), deterministically.

Batch APIs (wire formats of anthropic 2.14 / openai 3.57; both answer each request as the live
endpoint would, faults and responder included, recorded under `batch:<endpoint>`):
- Anthropic Message Batches: `POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`,
  `POST .../{id}/cancel`, JSONL results at `results_url` (`result.type` succeeded, errored,
  canceled, expired).
- OpenAI: `POST /v1/files` (multipart, purpose batch), `POST /v1/batches`, `GET /v1/batches/{id}`,
  `POST .../{id}/cancel`, `GET /v1/files/{id}/content` for `output_file_id` / `error_file_id`.
A batch answers `batch_polls` status reads as still processing, then processes its requests and
ends; `expire_next_batches(n)` makes the next n batches end expired, a cancel ends one cancelled
(requests not yet processed come back canceled / `batch_cancelled`).

Every request is recorded (`requests`, `stats()`): parsed body, headers with credentials
redacted, timestamps, status, fault applied, usage; plus calls per endpoint, the in-flight
high-water mark and token totals.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesParser
from enum import StrEnum
from typing import Any, Literal

from ._http import BackgroundHTTPServer, HttpReply, HttpRequest
from .json_schema import SchemaError, schema_example, strict_schema_problems, violate_schema

CHARS_PER_TOKEN = 4
DEFAULT_ANTHROPIC_KEY = "sk-ant-fake-test-key"
DEFAULT_OPENAI_KEY = "sk-fake-openai-test-key"
# How long a TIMEOUT fault hangs when no duration is given (stop() cuts it short).
DEFAULT_HANG_S = 30.0
DEFAULT_TEXT_ANSWER = "This is a fake answer from the local test server."
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
REDACTED = "[redacted]"
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization", "api-key"})
# Anthropic: a 5-minute cache entry unless the breakpoint asks for "1h".
ANTHROPIC_CACHE_TTL_S = {"5m": 300.0, "1h": 3600.0}
# OpenAI caches prompts of at least 1024 tokens, in steps of 128 tokens.
OPENAI_MIN_CACHEABLE_TOKENS = 1024
OPENAI_CACHE_STEP_TOKENS = 128
OPENAI_CACHE_TTL_S = 600.0
# OpenAI's Responses API rejects max_output_tokens below this.
OPENAI_RESPONSES_MIN_OUTPUT_TOKENS = 16
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

OutputKind = Literal["tool", "json_schema", "json_object", "text"]


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: ceil(characters / 4), at least 1 for non-empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- what the responder sees -------------------------------------------------------------------


@dataclass(frozen=True)
class LLMRequest:
    """A provider request reduced to what a responder needs.

    `output_kind` says where the answer goes: `tool` (Anthropic tool input, OpenAI function
    arguments), `json_schema` / `json_object` (JSON text content), or `text`.
    `output_name` is the tool or JSON-schema name, `output_schema` its JSON schema.
    `user_text` joins the text of every user turn; `system_text` the system prompt(s).
    """

    provider: Literal["anthropic", "openai"]
    endpoint: str
    model: str
    system_text: str
    user_text: str
    output_kind: OutputKind
    output_name: str | None
    output_schema: Mapping[str, Any] | None
    max_tokens: int | None
    body: Mapping[str, Any]
    headers: Mapping[str, str]


# A responder returns the JSON value for the structured answer, or a str to answer in text.
Responder = Callable[[LLMRequest], Any]


def default_responder(request: LLMRequest) -> Any:
    """A schema-valid answer for any schema (see `json_schema.schema_example`); text otherwise."""
    if request.output_schema is not None:
        return schema_example(request.output_schema)
    if request.output_kind in ("json_object", "tool"):
        return {"answer": "example"}
    return DEFAULT_TEXT_ANSWER


# -- faults ------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    """What can go wrong with a request (see `Fault` for the parameters each one uses)."""

    DELAY = "delay"  # extra latency (seconds), then a normal answer
    RATE_LIMIT = "rate_limit"  # 429 with retry-after
    SERVER_ERROR = "server_error"  # 5xx (status: 500, 502, 503, 529...)
    BAD_REQUEST = "bad_request"  # 400 invalid_request_error
    AUTH_ERROR = "auth_error"  # 401, as for a revoked key
    TIMEOUT = "timeout"  # hang for `seconds`, then close the connection without answering
    MALFORMED_JSON = "malformed_json"  # 200 whose body is not valid JSON
    TRUNCATED_JSON = "truncated_json"  # 200 whose JSON body stops half-way (Content-Length matches)
    TRUNCATED_BODY = "truncated_body"  # connection dropped half-way through the body
    TRUNCATED_ANSWER = "truncated_answer"  # stop_reason max_tokens / finish_reason length, cut answer
    SCHEMA_INVALID = "schema_invalid"  # valid JSON that breaks the requested schema
    MALFORMED_ANSWER = "malformed_answer"  # prose instead of the tool call / JSON content
    REFUSAL = "refusal"  # the model refuses


_HTTP_LEVEL_FAULTS = frozenset({FaultKind.MALFORMED_JSON, FaultKind.TRUNCATED_JSON, FaultKind.TRUNCATED_BODY})


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build it with the class methods, e.g. `Fault.rate_limit(0.2)`.

    `status` is the HTTP status of error faults, `retry_after` the `retry-after` header
    value in seconds (an int is sent as an integer, a float as a decimal), `seconds` the
    delay (DELAY) or hang (TIMEOUT), `message` the error or refusal text, `headers` extra
    response headers (for example `{"x-should-retry": "false"}`).
    """

    kind: FaultKind
    status: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    message: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally after `seconds` more than the server latency."""
        return cls(FaultKind.DELAY, seconds=seconds)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1, message: str | None = None) -> Fault:
        """HTTP 429 with `retry-after: <retry_after>` (no header when None)."""
        return cls(FaultKind.RATE_LIMIT, status=429, retry_after=retry_after, message=message)

    @classmethod
    def server_error(cls, status: int = 500, retry_after: float | None = None, message: str | None = None) -> Fault:
        """HTTP 5xx; 529 is Anthropic's `overloaded_error`."""
        if not 500 <= status <= 599:
            raise ValueError(f"Fault.server_error needs a 5xx status, got {status}")
        return cls(FaultKind.SERVER_ERROR, status=status, retry_after=retry_after, message=message)

    @classmethod
    def overloaded(cls, retry_after: float | None = None) -> Fault:
        """HTTP 529 overloaded_error (Anthropic's answer when the model is busy)."""
        return cls.server_error(529, retry_after=retry_after)

    @classmethod
    def bad_request(cls, message: str = "prompt is too long") -> Fault:
        """HTTP 400 invalid_request_error with `message`."""
        return cls(FaultKind.BAD_REQUEST, status=400, message=message)

    @classmethod
    def auth_error(cls) -> Fault:
        """HTTP 401, as if the key had been revoked."""
        return cls(FaultKind.AUTH_ERROR, status=401)

    @classmethod
    def timeout(cls, seconds: float = DEFAULT_HANG_S) -> Fault:
        """Hang `seconds` (set it above the client's timeout), then close without answering."""
        return cls(FaultKind.TIMEOUT, seconds=seconds)

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 response whose body is not valid JSON."""
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def truncated_json(cls) -> Fault:
        """A complete 200 response whose JSON body stops half-way."""
        return cls(FaultKind.TRUNCATED_JSON)

    @classmethod
    def truncated_body(cls) -> Fault:
        """A 200 response whose connection drops half-way through the declared body."""
        return cls(FaultKind.TRUNCATED_BODY)

    @classmethod
    def truncated_answer(cls) -> Fault:
        """The model hits max_tokens: a cut tool input / cut JSON content."""
        return cls(FaultKind.TRUNCATED_ANSWER)

    @classmethod
    def schema_invalid(cls) -> Fault:
        """The responder's answer broken so that it violates the schema."""
        return cls(FaultKind.SCHEMA_INVALID)

    @classmethod
    def malformed_answer(cls) -> Fault:
        """Prose instead of the tool call or the JSON content."""
        return cls(FaultKind.MALFORMED_ANSWER)

    @classmethod
    def refusal(cls, message: str | None = None) -> Fault:
        """Anthropic `stop_reason: refusal`; OpenAI `message.refusal` with null content."""
        return cls(FaultKind.REFUSAL, message=message)


@dataclass
class FaultRule:
    """A fault applied to the requests it matches, at most `times` times (None: always).

    A request matches when every given condition holds: `endpoint` equals the request path,
    `user_text_contains` is in the user text, and `when(request)` is true.
    """

    fault: Fault
    times: int | None = None
    when: Callable[[LLMRequest], bool] | None = None
    user_text_contains: str | None = None
    endpoint: str | None = None
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        """True once the rule has been applied `times` times."""
        return self.times is not None and self.hits >= self.times

    def matches(self, request: LLMRequest) -> bool:
        """Whether this rule applies to `request` (budget not considered)."""
        if self.endpoint is not None and request.endpoint != self.endpoint:
            return False
        if self.user_text_contains is not None and self.user_text_contains not in request.user_text:
            return False
        return self.when is None or bool(self.when(request))


@dataclass
class Outage:
    """Every request fails for `seconds` of wall time, cycling through `faults`.

    The outage starts with the first request that arrives once the server has received
    `after_calls` requests (so a run can buy some answers first), and ends `seconds` later.
    `hits` counts the requests it failed; `started_at` / `ends_at` are `time.monotonic()`
    values (None until it starts).
    """

    faults: tuple[Fault, ...]
    seconds: float
    after_calls: int = 0
    hits: int = 0
    started_at: float | None = None

    @property
    def ends_at(self) -> float | None:
        """When the outage ends (monotonic clock), once it has started."""
        return None if self.started_at is None else self.started_at + self.seconds

    def over(self, now: float | None = None) -> bool:
        """True once the outage has started and its time has passed."""
        ends_at = self.ends_at
        return ends_at is not None and (now if now is not None else time.monotonic()) >= ends_at


# -- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one answer. `input_tokens` counts the whole prompt, cached parts included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the fake received and what it answered."""

    index: int
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    received_at: float
    finished_at: float
    status: int
    fault: FaultKind | None
    usage: TokenUsage | None
    llm_request: LLMRequest | None

    @property
    def duration_s(self) -> float:
        """Seconds from arrival to answer."""
        return self.finished_at - self.received_at


@dataclass(frozen=True)
class ServerStats:
    """Counters over every request since start (or `reset_records()`)."""

    calls_by_endpoint: Mapping[str, int]
    status_counts: Mapping[int, int]
    faults_applied: Mapping[str, int]
    in_flight: int
    max_in_flight: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    @property
    def total_calls(self) -> int:
        """Requests received on any path."""
        return sum(self.calls_by_endpoint.values())

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens of every answered request."""
        return self.input_tokens + self.output_tokens


@dataclass
class _Exchange:
    index: int
    request: HttpRequest
    received_at: float
    body: Any = None
    llm_request: LLMRequest | None = None
    fault: FaultKind | None = None
    usage: TokenUsage | None = None
    batch_item: bool = False  # a request of a vendor batch: answered without the server latency


@dataclass
class _Answer:
    """A provider-neutral answer before it is put in the provider's shape."""

    kind: Literal["structured", "text", "refusal"]
    value: Any = None
    text: str = ""
    truncated: bool = False


@dataclass
class _BatchItem:
    """One request of a fake batch and, once processed, its HTTP status and JSON answer."""

    custom_id: str
    body: dict[str, Any]
    status: int | None = None
    payload: Any = None


@dataclass
class _FakeBatch:
    """A batch held by a fake server. `state`: processing, ended, expired, cancelled (or failed)."""

    id: str
    items: list[_BatchItem]
    headers: dict[str, str]
    polls_left: int
    expire: bool
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)
    state: str = "processing"
    cancelling: bool = False
    cancel_requested_at: float | None = None
    ended_at: float | None = None


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


class RequestError(Exception):
    """A request the provider would reject with 400 (message in the provider's words)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _cut_object(value: Mapping[str, Any], keep_chars: int) -> dict[str, Any]:
    """The part of an object a model had produced when it ran out of tokens.

    Whole properties are kept while they fit in `keep_chars` of JSON; the one that does not
    fit is kept cut short when it is a string, else dropped. Always drops or cuts something
    from a non-empty object.
    """
    out: dict[str, Any] = {}
    used = 2
    for key, item in value.items():
        piece = len(_dumps(key)) + 2 + len(_dumps(item))
        if used + piece <= keep_chars:
            out[key] = item
            used += piece + 2
            continue
        room = keep_chars - used - len(_dumps(key)) - 3
        if isinstance(item, str) and room > 0:
            out[key] = item[: min(room, max(len(item) - 1, 0))]
        break
    if out == dict(value) and out:
        out.pop(next(reversed(out)))
    return out


def _retry_after_text(value: float) -> str:
    # An int goes out as an integer ("2"), a float as a decimal ("0.25"), as the tests asked.
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


# -- the shared server -------------------------------------------------------------------------


class FakeLLMServer(BackgroundHTTPServer):
    """What the Anthropic and OpenAI fakes share: faults, latency, recording, caching, auth."""

    provider: Literal["anthropic", "openai"]

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        api_key: str | None,
        latency_s: float = 0.0,
        min_cacheable_tokens: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.api_key = api_key
        self._responder: Responder = responder or default_responder
        self._latency_s = latency_s
        self.min_cacheable_tokens = min_cacheable_tokens
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._outage: Outage | None = None
        self._records: list[RecordedRequest] = []
        self._next_index = 0
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._tokens = Counter[str]()
        self._cache: dict[str, float] = {}
        self._batches: dict[str, _FakeBatch] = {}
        self._batch_polls = 1
        self._expire_next_batches = 0

    # -- configuration (thread-safe, allowed while running) ---------------------------------

    @property
    def latency_s(self) -> float:
        """Seconds every answered request waits before its answer."""
        with self._lock:
            return self._latency_s

    @latency_s.setter
    def latency_s(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {seconds}")
        with self._lock:
            self._latency_s = seconds

    def set_responder(self, responder: Responder | None) -> None:
        """Use `responder` for the next requests (None: the default responder)."""
        with self._lock:
            self._responder = responder or default_responder

    def add_fault(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        when: Callable[[LLMRequest], bool] | None = None,
        user_text_contains: str | None = None,
        endpoint: str | None = None,
    ) -> FaultRule:
        """Apply `fault` to matching requests, `times` times (None: until cleared).

        Rules are tried in the order they were added; the first that matches and has budget
        left is applied. Returns the rule (its `hits` counts uses).
        """
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        rule = FaultRule(fault, times=times, when=when, user_text_contains=user_text_contains, endpoint=endpoint)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(self, count: int, fault: Fault) -> FaultRule:
        """Apply `fault` to the next `count` requests."""
        return self.add_fault(fault, times=count)

    def clear_faults(self) -> None:
        """Remove every fault rule and any outage."""
        with self._lock:
            self._rules.clear()
            self._outage = None

    def start_outage(self, seconds: float, faults: Sequence[Fault] | None = None, *, after_calls: int = 0) -> Outage:
        """Fail every request for `seconds` of wall time with `faults` in turn (default: 429 with
        `retry-after: 1`, then 503, then 529), starting once `after_calls` requests have arrived.

        Replaces an earlier outage. Returns it, so a test can read `hits` and `ends_at`.
        """
        if seconds <= 0:
            raise ValueError(f"an outage lasts > 0 seconds, got {seconds}")
        chosen = tuple(faults) if faults else (Fault.rate_limit(1), Fault.server_error(503), Fault.overloaded())
        if any(f.kind not in (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.TIMEOUT) for f in chosen):
            raise ValueError("an outage answers with rate limits, server errors or timeouts only")
        outage = Outage(faults=chosen, seconds=seconds, after_calls=after_calls)
        with self._lock:
            self._outage = outage
        return outage

    def clear_prompt_cache(self) -> None:
        """Forget every cached prompt prefix."""
        with self._lock:
            self._cache.clear()

    def reset_records(self) -> None:
        """Forget recorded requests and zero the counters (faults and cache are kept)."""
        with self._lock:
            self._records.clear()
            self._calls.clear()
            self._statuses.clear()
            self._faults.clear()
            self._tokens.clear()
            self._max_in_flight = self._in_flight

    # -- batch APIs ---------------------------------------------------------------------------

    @property
    def batch_polls(self) -> int:
        """Status reads a new batch answers "still processing" before it ends (default 1)."""
        with self._lock:
            return self._batch_polls

    @batch_polls.setter
    def batch_polls(self, polls: int) -> None:
        if polls < 0:
            raise ValueError(f"polls must be >= 0, got {polls}")
        with self._lock:
            self._batch_polls = polls

    def expire_next_batches(self, count: int = 1) -> None:
        """The next `count` batches created end expired, none of their requests processed."""
        with self._lock:
            self._expire_next_batches += count

    def batch_ids(self) -> list[str]:
        """Ids of every batch created, oldest first."""
        with self._lock:
            return list(self._batches)

    def batch_requests(self, batch_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(custom_id, request body) of a batch's requests, in submission order."""
        with self._lock:
            return [(item.custom_id, dict(item.body)) for item in self._batches[batch_id].items]

    def _new_batch(
        self, batch_id: str, items: list[_BatchItem], headers: Mapping[str, str], **extra: Any
    ) -> _FakeBatch:
        with self._lock:
            expire = self._expire_next_batches > 0
            if expire:
                self._expire_next_batches -= 1
            batch = _FakeBatch(
                id=batch_id,
                items=items,
                headers=dict(headers),
                polls_left=self._batch_polls,
                expire=expire,
                created_at=time.time(),
                extra=extra,
            )
            self._batches[batch_id] = batch
        return batch

    def _advance_batch(self, batch: _FakeBatch, endpoint: str) -> None:
        """One status read: a processing batch ends once its polls are used up (or it was cancelled)."""
        with self._lock:
            if batch.state != "processing":
                return
            if batch.cancelling:
                batch.state = "cancelled"
            elif batch.expire and batch.polls_left <= 0:
                batch.state = "expired"
            elif batch.polls_left > 0:
                batch.polls_left -= 1
                return
            else:
                batch.state = "processing_now"
        if batch.state == "processing_now":
            for item in batch.items:
                item.status, item.payload = self._answer_batch_item(batch, item, endpoint)
            with self._lock:
                batch.state = "ended"
        with self._lock:
            batch.ended_at = time.time()

    def _answer_batch_item(self, batch: _FakeBatch, item: _BatchItem, endpoint: str) -> tuple[int, Any]:
        """Answer one request of a batch as `endpoint` answers it live (faults, responder, usage);
        recorded under `batch:<endpoint>` so live-call counts stay apart."""
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self._calls[f"batch:{endpoint}"] += 1
        http = HttpRequest(
            method="POST",
            path=endpoint,
            query="",
            headers={**batch.headers, "content-type": "application/json"},
            body=_dumps(item.body).encode("utf-8"),
        )
        exchange = _Exchange(index=index, request=http, received_at=time.time(), batch_item=True)
        with self._lock:
            self._in_flight += 1
        reply = HttpReply(500)
        try:
            reply = self._answer_exchange(exchange)
        finally:
            self._finish(exchange, reply)
        if reply.drop or reply.cut_body_at is not None:
            return 500, None
        try:
            return reply.status, json.loads(reply.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 500, None

    def _batch_reply(self, exchange: _Exchange) -> HttpReply | None:
        """The reply of a batch-API path, or None for the live endpoints."""
        return None

    def _json_reply(self, exchange: _Exchange, payload: Any, status: int = 200) -> HttpReply:
        headers = self._response_headers(exchange)
        headers["content-type"] = "application/json"
        return HttpReply(status, _dumps(payload).encode("utf-8"), headers=headers)

    def _read_json(self, exchange: _Exchange) -> dict[str, Any] | HttpReply:
        try:
            body = json.loads(exchange.request.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return self._error_reply(exchange, 400, f"The request body is not valid JSON: {err}")
        exchange.body = body
        if not isinstance(body, dict):
            return self._error_reply(exchange, 400, "The request body must be a JSON object.")
        return body

    # -- inspection -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The `base_url` to give the provider's SDK client."""
        return self.url

    def client_kwargs(self) -> dict[str, Any]:
        """`base_url` and `api_key` for the SDK client constructor."""
        return {"base_url": self.base_url, "api_key": self.api_key or "no-key-needed"}

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every finished request so far, in arrival order."""
        with self._lock:
            return sorted(self._records, key=lambda r: r.index)

    def calls(self, endpoint: str | None = None) -> int:
        """Requests received on `endpoint` (a path such as `/v1/messages`), or on any path."""
        with self._lock:
            return self._calls[endpoint] if endpoint is not None else sum(self._calls.values())

    def stats(self) -> ServerStats:
        """A snapshot of the counters."""
        with self._lock:
            return ServerStats(
                calls_by_endpoint=dict(self._calls),
                status_counts=dict(self._statuses),
                faults_applied=dict(self._faults),
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
                input_tokens=self._tokens["input"],
                output_tokens=self._tokens["output"],
                cache_creation_input_tokens=self._tokens["cache_creation"],
                cache_read_input_tokens=self._tokens["cache_read"],
            )

    # -- request flow -----------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpReply:
        """Record the request, answer it, record the answer."""
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self._calls[request.path] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        exchange = _Exchange(index=index, request=request, received_at=time.time())
        reply = HttpReply(500)
        try:
            reply = self._answer_exchange(exchange)
            return reply
        finally:
            self._finish(exchange, reply)

    def _finish(self, exchange: _Exchange, reply: HttpReply) -> None:
        headers = {
            name: (REDACTED if name in CREDENTIAL_HEADERS else value)
            for name, value in exchange.request.headers.items()
        }
        record = RecordedRequest(
            index=exchange.index,
            method=exchange.request.method,
            path=("batch:" if exchange.batch_item else "") + exchange.request.path,
            headers=headers,
            body=exchange.body,
            received_at=exchange.received_at,
            finished_at=time.time(),
            status=0 if reply.drop else reply.status,
            fault=exchange.fault,
            usage=exchange.usage,
            llm_request=exchange.llm_request,
        )
        with self._lock:
            self._in_flight -= 1
            self._records.append(record)
            self._statuses[record.status] += 1
            if exchange.fault is not None:
                self._faults[exchange.fault.value] += 1
            if exchange.usage is not None:
                self._tokens["input"] += exchange.usage.input_tokens
                self._tokens["output"] += exchange.usage.output_tokens
                self._tokens["cache_creation"] += exchange.usage.cache_creation_input_tokens
                self._tokens["cache_read"] += exchange.usage.cache_read_input_tokens

    def _answer_exchange(self, exchange: _Exchange) -> HttpReply:
        request = exchange.request
        batch_reply = self._batch_reply(exchange)
        if batch_reply is not None:
            return batch_reply
        routes = self._routes()
        route = routes.get(request.path)
        if route is None:
            return self._error_reply(
                exchange,
                404,
                f"Not found: {request.method} {request.path} (this fake serves {sorted(routes)})",
            )
        if request.method != "POST":
            return self._error_reply(exchange, 405, f"Method {request.method} not allowed on {request.path}")
        # The body is parsed before the key is checked so that rejected requests are recorded too.
        parse_error: str | None = None
        try:
            body = json.loads(request.body.decode("utf-8") or "null")
            exchange.body = body
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            parse_error = f"The request body is not valid JSON: {err}"
        denied = self._check_auth(exchange)
        if denied is not None:
            return denied
        if parse_error is not None:
            return self._error_reply(exchange, 400, parse_error)
        if not isinstance(body, dict):
            return self._error_reply(exchange, 400, "The request body must be a JSON object.")
        try:
            llm_request = route(body, request)
        except RequestError as err:
            return self._error_reply(exchange, 400, err.message, param=err.param)
        exchange.llm_request = llm_request

        fault = self._take_fault(llm_request, exchange.index)
        if fault is not None:
            exchange.fault = fault.kind
            early = self._fault_reply(exchange, fault)
            if early is not None:
                return early
        delay = 0.0 if exchange.batch_item else self.latency_s
        delay += fault.seconds if fault is not None and fault.kind is FaultKind.DELAY else 0.0
        if self.wait(delay):
            return HttpReply(503, drop=True)
        try:
            answer = self._make_answer(llm_request, fault)
        except _ResponderError as err:
            return self._error_reply(exchange, 500, str(err), headers={"x-should-retry": "false"})
        payload, usage = self._render(exchange, llm_request, answer)
        exchange.usage = usage
        return self._encode(exchange, payload, fault)

    def _take_fault(self, request: LLMRequest, index: int) -> Fault | None:
        now = time.monotonic()
        with self._lock:
            outage = self._outage
            if outage is not None and index >= outage.after_calls and not outage.over(now):
                if outage.started_at is None:
                    outage.started_at = now
                fault = outage.faults[outage.hits % len(outage.faults)]
                outage.hits += 1
                return fault
            rules = list(self._rules)
        for rule in rules:
            # The predicate runs outside the lock (it is test code); the budget is taken inside.
            if not rule.matches(request):
                continue
            with self._lock:
                if rule.exhausted:
                    continue
                rule.hits += 1
            return rule.fault
        return None

    def _fault_reply(self, exchange: _Exchange, fault: Fault) -> HttpReply | None:
        """The reply of faults that answer before the model runs (None for the others)."""
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["retry-after"] = _retry_after_text(fault.retry_after)
        if fault.kind is FaultKind.RATE_LIMIT:
            return self._error_reply(exchange, 429, fault.message, headers=headers)
        if fault.kind is FaultKind.SERVER_ERROR:
            return self._error_reply(exchange, fault.status or 500, fault.message, headers=headers)
        if fault.kind is FaultKind.BAD_REQUEST:
            return self._error_reply(exchange, 400, fault.message, headers=headers)
        if fault.kind is FaultKind.AUTH_ERROR:
            return self._error_reply(exchange, 401, fault.message, headers=headers)
        if fault.kind is FaultKind.TIMEOUT:
            self.wait(fault.seconds or DEFAULT_HANG_S)
            return HttpReply(504, drop=True)
        return None

    def _make_answer(self, request: LLMRequest, fault: Fault | None) -> _Answer:
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.REFUSAL:
            return _Answer("refusal", text=(fault.message if fault and fault.message else REFUSAL_TEXT))
        with self._lock:
            responder = self._responder
        try:
            value = responder(request)
        except Exception as err:
            raise _ResponderError(
                f"The test responder {getattr(responder, '__name__', responder)!r} raised {type(err).__name__}: {err}"
            ) from err
        structured = request.output_kind != "text"
        if kind is FaultKind.MALFORMED_ANSWER:
            shown = value if isinstance(value, str) else _dumps(value)
            prose = f"Sure! Here is what I found:\n```json\n{shown[: max(len(shown) - 1, 1)]}\n```"
            return _Answer("text", text=prose)
        if kind is FaultKind.SCHEMA_INVALID:
            if request.output_schema is None:
                raise _ResponderError("SCHEMA_INVALID needs a request with a JSON schema (tool or json_schema)")
            try:
                value = violate_schema(value, request.output_schema)
            except SchemaError as err:
                raise _ResponderError(f"SCHEMA_INVALID cannot break this schema: {err}") from err
        if isinstance(value, str):
            return _Answer("text", text=value, truncated=kind is FaultKind.TRUNCATED_ANSWER)
        if not structured:
            return _Answer("text", text=_dumps(value), truncated=kind is FaultKind.TRUNCATED_ANSWER)
        if request.output_kind == "tool" and not isinstance(value, dict):
            raise _ResponderError(
                f"The responder returned {type(value).__name__} for tool {request.output_name!r}; "
                "a tool input must be a JSON object (dict)"
            )
        return _Answer("structured", value=value, truncated=kind is FaultKind.TRUNCATED_ANSWER)

    def _encode(self, exchange: _Exchange, payload: dict[str, Any], fault: Fault | None) -> HttpReply:
        text = _dumps(payload)
        headers = self._response_headers(exchange)
        if fault is not None:
            headers.update(fault.headers)
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.MALFORMED_JSON:
            # A trailing comma and an unquoted key: looks like JSON, does not parse.
            text = text[:-1] + ", oops: true,}"
        elif kind is FaultKind.TRUNCATED_JSON:
            text = text[: len(text) // 2]
        body = text.encode("utf-8")
        cut = len(body) // 2 if kind is FaultKind.TRUNCATED_BODY else None
        return HttpReply(200, body, headers=headers, cut_body_at=cut)

    # -- prompt caching ---------------------------------------------------------------------

    def _cache_lookup(self, keys: list[tuple[int, str, float]]) -> int:
        """Tokens of the longest cached prefix among `keys` (tokens, key, ttl); stores them all."""
        now = time.monotonic()
        hit = 0
        with self._lock:
            for tokens, key, _ttl in keys:
                if self._cache.get(key, 0.0) > now:
                    hit = max(hit, tokens)
            for _tokens, key, ttl in keys:
                self._cache[key] = now + ttl
        return hit

    # -- provider hooks ---------------------------------------------------------------------

    def _routes(self) -> dict[str, Callable[[dict[str, Any], HttpRequest], LLMRequest]]:
        raise NotImplementedError

    def _check_auth(self, exchange: _Exchange) -> HttpReply | None:
        raise NotImplementedError

    def _error_reply(
        self,
        exchange: _Exchange,
        status: int,
        message: str | None,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        raise NotImplementedError

    def _response_headers(self, exchange: _Exchange) -> dict[str, str]:
        raise NotImplementedError

    def _render(self, exchange: _Exchange, request: LLMRequest, answer: _Answer) -> tuple[dict[str, Any], TokenUsage]:
        raise NotImplementedError


class _ResponderError(Exception):
    """The answer could not be produced; reported to the client as a 500 that says why."""


def _require_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{where}: Input should be a valid dictionary", param=where)
    return value


def _positive_int(body: Mapping[str, Any], name: str, *, required: bool, minimum: int = 1) -> int | None:
    if name not in body or body[name] is None:
        if required:
            raise RequestError(f"{name}: Field required", param=name)
        return None
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(f"{name}: Input should be a valid integer", param=name)
    if value < minimum:
        raise RequestError(f"{name}: Input should be greater than or equal to {minimum}", param=name)
    return value


# -- Anthropic ---------------------------------------------------------------------------------

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_DEFAULT_MESSAGES = {
    401: "invalid x-api-key",
    429: "This request would exceed the rate limit for your organization of 50 requests per minute. "
    "Please reduce the prompt length or the maximum tokens requested, or try again later.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Request timed out",
    529: "Overloaded",
}


@dataclass(frozen=True)
class _Segment:
    """A piece of the prompt in the order Anthropic caches it: tools, system, messages."""

    text: str
    cache_control: Mapping[str, Any] | None = None


class FakeAnthropicServer(FakeLLMServer):
    """A fake of the Anthropic Messages API (`POST /v1/messages`).

    Accepts the key as `x-api-key` or `Authorization: Bearer` (the anthropic 2.x SDK sends
    the latter), requires `anthropic-version`, answers with tool use, structured outputs or
    text, and reports prompt caching. `min_cacheable_tokens` is 0 here so short test
    prompts cache; the real minimum is 1024 tokens (Sonnet/Opus) to 4096 (some models).
    """

    provider: Literal["anthropic", "openai"] = "anthropic"

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        api_key: str | None = DEFAULT_ANTHROPIC_KEY,
        latency_s: float = 0.0,
        min_cacheable_tokens: int = 0,
        require_version_header: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(
            responder=responder,
            api_key=api_key,
            latency_s=latency_s,
            min_cacheable_tokens=min_cacheable_tokens,
            host=host,
        )
        self.require_version_header = require_version_header

    def _routes(self) -> dict[str, Callable[[dict[str, Any], HttpRequest], LLMRequest]]:
        return {"/v1/messages": self._parse_messages}

    def _check_auth(self, exchange: _Exchange) -> HttpReply | None:
        headers = exchange.request.headers
        if self.api_key is not None:
            bearer = headers.get("authorization", "")
            given = headers.get("x-api-key") or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
            if not given:
                return self._error_reply(exchange, 401, "x-api-key header is required")
            if given != self.api_key:
                return self._error_reply(exchange, 401, "invalid x-api-key")
        if self.require_version_header and not headers.get("anthropic-version"):
            return self._error_reply(exchange, 400, "anthropic-version: header is required")
        return None

    def _error_reply(
        self,
        exchange: _Exchange,
        status: int,
        message: str | None,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        error_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        text = message or _ANTHROPIC_DEFAULT_MESSAGES.get(status, "Error")
        request_id = self._request_id(exchange)
        body = {"type": "error", "error": {"type": error_type, "message": text}, "request_id": request_id}
        all_headers = self._response_headers(exchange)
        if status == 429:
            all_headers["anthropic-ratelimit-requests-remaining"] = "0"
        all_headers.update(headers or {})
        return HttpReply(status, _dumps(body).encode("utf-8"), headers=all_headers)

    @staticmethod
    def _request_id(exchange: _Exchange) -> str:
        return f"req_01fake{exchange.index:018d}"

    def _response_headers(self, exchange: _Exchange) -> dict[str, str]:
        return {"request-id": self._request_id(exchange), "anthropic-organization-id": "fake-org"}

    # -- Message Batches API ----------------------------------------------------------------

    def _batch_reply(self, exchange: _Exchange) -> HttpReply | None:
        """`POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, `.../results`, `.../cancel`."""
        path = exchange.request.path.rstrip("/")
        prefix = "/v1/messages/batches"
        if not path.startswith(prefix):
            return None
        denied = self._check_auth(exchange)
        if denied is not None:
            return denied
        parts = path[len(prefix) :].strip("/").split("/") if path != prefix else []
        method = exchange.request.method
        if not parts:
            if method != "POST":
                return self._error_reply(exchange, 405, f"Method {method} not allowed on {path}")
            return self._create_batch(exchange)
        with self._lock:
            batch = self._batches.get(parts[0])
        if batch is None:
            return self._error_reply(exchange, 404, f"No message batch with id {parts[0]!r}")
        action = parts[1] if len(parts) > 1 else None
        if action is None and method == "GET":
            self._advance_batch(batch, "/v1/messages")
            return self._json_reply(exchange, self._batch_object(batch))
        if action == "cancel" and method == "POST":
            with self._lock:
                if batch.state == "processing":
                    batch.cancelling = True
                    batch.cancel_requested_at = time.time()
            return self._json_reply(exchange, self._batch_object(batch))
        if action == "results" and method == "GET":
            if batch.state not in ("ended", "expired", "cancelled"):
                return self._error_reply(exchange, 400, f"Message batch {batch.id} has not ended yet")
            lines = [_dumps({"custom_id": item.custom_id, "result": self._result(batch, item)}) for item in batch.items]
            headers = self._response_headers(exchange)
            headers["content-type"] = "application/binary"
            return HttpReply(200, ("\n".join(lines) + "\n").encode("utf-8"), headers=headers)
        return self._error_reply(exchange, 405, f"Method {method} not allowed on {path}")

    def _create_batch(self, exchange: _Exchange) -> HttpReply:
        body = self._read_json(exchange)
        if isinstance(body, HttpReply):
            return body
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return self._error_reply(exchange, 400, "requests: List should have at least 1 item")
        items: list[_BatchItem] = []
        seen: set[str] = set()
        for number, request in enumerate(requests):
            if not isinstance(request, dict) or not isinstance(request.get("params"), dict):
                return self._error_reply(exchange, 400, f"requests.{number}.params: Field required")
            custom_id = request.get("custom_id")
            if not isinstance(custom_id, str) or not _TOOL_NAME.match(custom_id) or len(custom_id) > 64:
                return self._error_reply(
                    exchange, 400, f"requests.{number}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )
            if custom_id in seen:
                return self._error_reply(exchange, 400, f"Duplicate custom_id {custom_id!r} in the batch requests")
            seen.add(custom_id)
            items.append(_BatchItem(custom_id, request["params"]))
        batch = self._new_batch(f"msgbatch_01fake{exchange.index:014d}", items, exchange.request.headers)
        return self._json_reply(exchange, self._batch_object(batch))

    def _result(self, batch: _FakeBatch, item: _BatchItem) -> dict[str, Any]:
        if item.status is None:
            return {"type": "expired" if batch.state == "expired" else "canceled"}
        if item.status == 200 and isinstance(item.payload, dict):
            return {"type": "succeeded", "message": item.payload}
        error = item.payload if isinstance(item.payload, dict) and item.payload.get("type") == "error" else None
        return {
            "type": "errored",
            "error": error or {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
        }

    def _batch_object(self, batch: _FakeBatch) -> dict[str, Any]:
        with self._lock:
            state = batch.state
            counts = Counter(self._result(batch, item)["type"] for item in batch.items) if state != "processing" else {}
            ended = state != "processing"
            return {
                "id": batch.id,
                "type": "message_batch",
                "processing_status": "ended" if ended else ("canceling" if batch.cancelling else "in_progress"),
                "request_counts": {
                    "processing": 0 if ended else len(batch.items),
                    "succeeded": counts.get("succeeded", 0),
                    "errored": counts.get("errored", 0),
                    "canceled": counts.get("canceled", 0),
                    "expired": counts.get("expired", 0),
                },
                "ended_at": _iso(batch.ended_at),
                "created_at": _iso(batch.created_at),
                "expires_at": _iso(batch.created_at + 86_400),
                "archived_at": None,
                "cancel_initiated_at": _iso(batch.cancel_requested_at),
                "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if ended else None,
            }

    # -- request parsing --------------------------------------------------------------------

    def _parse_messages(self, body: dict[str, Any], http: HttpRequest) -> LLMRequest:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError("model: Field required", param="model")
        max_tokens = _positive_int(body, "max_tokens", required=True)
        if body.get("stream"):
            raise RequestError("stream: this fake server does not stream; call messages.create without stream")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("messages: at least one message is required", param="messages")
        user_parts: list[str] = []
        for position, message in enumerate(messages):
            message = _require_dict(message, f"messages.{position}")
            role = message.get("role")
            if role == "system":
                raise RequestError(
                    f'messages.{position}.role: Unexpected role "system". The Messages API accepts a '
                    'top-level `system` parameter, not "system" as an input message role.'
                )
            if role not in ("user", "assistant"):
                raise RequestError(f"messages.{position}.role: Input should be 'user' or 'assistant'")
            content = message.get("content")
            if isinstance(content, str):
                blocks: list[Any] = [{"type": "text", "text": content}]
            elif isinstance(content, list):
                blocks = content
            else:
                raise RequestError(f"messages.{position}.content: Input should be a valid string or list")
            for block_no, block in enumerate(blocks):
                block = _require_dict(block, f"messages.{position}.content.{block_no}")
                if "type" not in block:
                    raise RequestError(f"messages.{position}.content.{block_no}.type: Field required")
                if role == "user" and block["type"] == "text":
                    user_parts.append(str(block.get("text", "")))

        system = body.get("system")
        if system is None:
            system_text = ""
        elif isinstance(system, str):
            system_text = system
        elif isinstance(system, list):
            texts = []
            for block_no, block in enumerate(system):
                block = _require_dict(block, f"system.{block_no}")
                if block.get("type") != "text" or not isinstance(block.get("text"), str):
                    raise RequestError(f"system.{block_no}: system blocks must be text blocks with a `text`")
                texts.append(block["text"])
            system_text = "\n".join(texts)
        else:
            raise RequestError("system: Input should be a valid string or list of text blocks")

        tools = body.get("tools") or []
        if not isinstance(tools, list):
            raise RequestError("tools: Input should be a valid list")
        custom_tools: dict[str, dict[str, Any]] = {}
        for tool_no, tool in enumerate(tools):
            tool = _require_dict(tool, f"tools.{tool_no}")
            if tool.get("type") not in (None, "custom"):
                continue  # server tools (web search...) carry no schema
            name = tool.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.match(name):
                raise RequestError(
                    f"tools.{tool_no}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
                )
            if name in custom_tools:
                raise RequestError("tools: Tool names must be unique.")
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise RequestError(f"tools.{tool_no}.custom.input_schema.type: Input should be 'object'")
            custom_tools[name] = tool

        choice = body.get("tool_choice") or {"type": "auto"}
        choice = _require_dict(choice, "tool_choice")
        choice_type = choice.get("type")
        if choice_type not in ("auto", "any", "tool", "none"):
            raise RequestError("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
        if choice_type in ("any", "tool") and not custom_tools:
            raise RequestError("tool_choice: tool_choice requires `tools` to be provided")
        output_format = (body.get("output_config") or {}).get("format")
        kind: OutputKind = "text"
        name_out: str | None = None
        schema_out: Mapping[str, Any] | None = None
        if custom_tools and choice_type != "none":
            if choice_type == "tool":
                wanted = choice.get("name")
                if wanted not in custom_tools:
                    raise RequestError(f"tool_choice.name: Tool '{wanted}' not found in the provided tools")
                tool = custom_tools[str(wanted)]
            else:
                # A real model may answer in text with "auto"; the fake always calls the first tool.
                tool = next(iter(custom_tools.values()))
            kind, name_out, schema_out = "tool", tool["name"], tool["input_schema"]
        elif output_format is not None:
            output_format = _require_dict(output_format, "output_config.format")
            if output_format.get("type") != "json_schema" or not isinstance(output_format.get("schema"), dict):
                raise RequestError("output_config.format: expected {'type': 'json_schema', 'schema': {...}}")
            kind, schema_out = "json_schema", output_format["schema"]

        return LLMRequest(
            provider="anthropic",
            endpoint=http.path,
            model=model,
            system_text=system_text,
            user_text="\n".join(user_parts),
            output_kind=kind,
            output_name=name_out,
            output_schema=schema_out,
            max_tokens=max_tokens,
            body=body,
            headers={k: v for k, v in http.headers.items() if k not in CREDENTIAL_HEADERS},
        )

    # -- answer -----------------------------------------------------------------------------

    def _segments(self, body: Mapping[str, Any]) -> list[_Segment]:
        segments: list[_Segment] = []
        for tool in body.get("tools") or []:
            shown = {k: v for k, v in tool.items() if k != "cache_control"}
            segments.append(_Segment(_dumps(shown), tool.get("cache_control")))
        system = body.get("system")
        if isinstance(system, str):
            segments.append(_Segment(system))
        elif isinstance(system, list):
            segments.extend(_Segment(b["text"], b.get("cache_control")) for b in system)
        for message in body["messages"]:
            content = message["content"]
            if isinstance(content, str):
                segments.append(_Segment(f"{message['role']}: {content}"))
                continue
            for block in content:
                text = (
                    block["text"]
                    if block.get("type") == "text"
                    else _dumps({k: v for k, v in block.items() if k != "cache_control"})
                )
                segments.append(_Segment(text, block.get("cache_control")))
        automatic = body.get("cache_control")
        if isinstance(automatic, dict) and segments:
            # Automatic caching puts the breakpoint on the last block of the prompt.
            last = segments[-1]
            segments[-1] = _Segment(last.text, last.cache_control or automatic)
        output_format = (body.get("output_config") or {}).get("format")
        if output_format:
            segments.append(_Segment(_dumps(output_format)))
        return segments

    def _prompt_usage(self, model: str, body: Mapping[str, Any]) -> tuple[int, int, int, str]:
        """(total input tokens, cache read, cache creation, ttl of the creation)."""
        segments = self._segments(body)
        total_chars = sum(len(s.text) for s in segments)
        total = max(1, math.ceil(total_chars / CHARS_PER_TOKEN))
        digest = hashlib.sha256(model.encode("utf-8"))
        chars = 0
        breakpoints: list[tuple[int, str, float]] = []
        last_ttl = "5m"
        for segment in segments:
            digest.update(segment.text.encode("utf-8") + b"\x00")
            chars += len(segment.text)
            if segment.cache_control:
                tokens = math.ceil(chars / CHARS_PER_TOKEN)
                ttl = str(segment.cache_control.get("ttl", "5m"))
                if tokens >= max(self.min_cacheable_tokens, 1):
                    breakpoints.append((tokens, digest.hexdigest(), ANTHROPIC_CACHE_TTL_S.get(ttl, 300.0)))
                    last_ttl = ttl
        if not breakpoints:
            return total, 0, 0, last_ttl
        read = self._cache_lookup(breakpoints)
        creation = max(breakpoints[-1][0] - read, 0)
        return total, read, creation, last_ttl

    def _render(self, exchange: _Exchange, request: LLMRequest, answer: _Answer) -> tuple[dict[str, Any], TokenUsage]:
        max_tokens = request.max_tokens or 1
        content: list[dict[str, Any]] = []
        stop_details: dict[str, Any] | None = None
        if answer.kind == "refusal":
            stop_reason = "refusal"
            stop_details = {"type": "refusal", "category": None, "explanation": answer.text}
            output_tokens = 1
        elif answer.kind == "structured" and request.output_kind == "tool":
            value: dict[str, Any] = answer.value
            produced = _dumps(value)
            truncated = answer.truncated or estimate_tokens(produced) > max_tokens
            if truncated:
                keep = len(produced) // 2 if answer.truncated else max_tokens * CHARS_PER_TOKEN
                value = _cut_object(value, keep)
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_01fake{exchange.index:014d}",
                    "name": request.output_name,
                    "input": value,
                }
            )
            stop_reason = "max_tokens" if truncated else "tool_use"
            output_tokens = max_tokens if truncated else max(1, estimate_tokens(produced))
        else:
            text = _dumps(answer.value) if answer.kind == "structured" else answer.text
            truncated = answer.truncated or estimate_tokens(text) > max_tokens
            if truncated:
                keep = len(text) // 2 if answer.truncated else max_tokens * CHARS_PER_TOKEN
                text = text[:keep]
            content.append({"type": "text", "text": text})
            stop_reason = "max_tokens" if truncated else "end_turn"
            output_tokens = max_tokens if truncated else max(1, estimate_tokens(text))

        total, read, creation, ttl = self._prompt_usage(request.model, request.body)
        usage = {
            "input_tokens": total - read - creation,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": creation if ttl != "1h" else 0,
                "ephemeral_1h_input_tokens": creation if ttl == "1h" else 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        payload = {
            "id": f"msg_01fake{exchange.index:016d}",
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": stop_details,
            "usage": usage,
        }
        return payload, TokenUsage(total, output_tokens, creation, read)


# -- OpenAI ------------------------------------------------------------------------------------

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "unknown_url", "Unknown request URL."),
    405: ("invalid_request_error", "method_not_allowed", "Method not allowed."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests (fake organization): limit 60 per minute. Please try again later.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class FakeOpenAIServer(FakeLLMServer):
    """A fake of OpenAI's `POST /v1/chat/completions` and `POST /v1/responses`.

    `base_url` ends in `/v1` like the SDK's default. Strict JSON schemas are checked as
    OpenAI does (objects need `additionalProperties: false` and every property required).
    Prompt caching is automatic: prompts of at least `min_cacheable_tokens` (1024 as in
    the real service) report the longest previously seen prefix, in 128-token steps.
    """

    provider: Literal["anthropic", "openai"] = "openai"

    def __init__(
        self,
        *,
        responder: Responder | None = None,
        api_key: str | None = DEFAULT_OPENAI_KEY,
        latency_s: float = 0.0,
        min_cacheable_tokens: int = OPENAI_MIN_CACHEABLE_TOKENS,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(
            responder=responder,
            api_key=api_key,
            latency_s=latency_s,
            min_cacheable_tokens=min_cacheable_tokens,
            host=host,
        )
        # Uploaded and batch output files: id -> (purpose, bytes, created, filename).
        self._files: dict[str, tuple[str, bytes, float, str]] = {}

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`, as the OpenAI SDK expects."""
        return f"{self.url}/v1"

    def _routes(self) -> dict[str, Callable[[dict[str, Any], HttpRequest], LLMRequest]]:
        return {"/v1/chat/completions": self._parse_chat, "/v1/responses": self._parse_responses}

    def _check_auth(self, exchange: _Exchange) -> HttpReply | None:
        if self.api_key is None:
            return None
        bearer = exchange.request.headers.get("authorization", "")
        if not bearer.lower().startswith("bearer ") or not bearer[7:].strip():
            return self._error_reply(
                exchange,
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code=None,
            )
        given = bearer[7:].strip()
        if given != self.api_key:
            shown = f"{given[:3]}*****{given[-4:]}" if len(given) > 8 else "*****"
            return self._error_reply(exchange, 401, f"Incorrect API key provided: {shown}.")
        return None

    def _error_reply(
        self,
        exchange: _Exchange,
        status: int,
        message: str | None,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        code: str | Literal["default"] | None = "default",
    ) -> HttpReply:
        error_type, default_code, default_message = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        body = {
            "error": {
                "message": message or default_message,
                "type": error_type,
                "param": param,
                "code": default_code if code == "default" else code,
            }
        }
        all_headers = self._response_headers(exchange)
        if status == 429:
            all_headers["x-ratelimit-remaining-requests"] = "0"
        all_headers.update(headers or {})
        return HttpReply(status, _dumps(body).encode("utf-8"), headers=all_headers)

    def _response_headers(self, exchange: _Exchange) -> dict[str, str]:
        return {
            "x-request-id": f"req_fake{exchange.index:024d}",
            "openai-organization": "fake-org",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
        }

    # -- Files and Batch APIs ---------------------------------------------------------------

    def _batch_reply(self, exchange: _Exchange) -> HttpReply | None:
        """`POST /v1/files` (purpose batch), `GET /v1/files/{id}/content`, `POST /v1/batches`,
        `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`."""
        path = exchange.request.path.rstrip("/")
        if not (path.startswith("/v1/files") or path.startswith("/v1/batches")):
            return None
        denied = self._check_auth(exchange)
        if denied is not None:
            return denied
        parts = path.strip("/").split("/")[1:]
        method = exchange.request.method
        if parts == ["files"] and method == "POST":
            return self._upload_file(exchange)
        if len(parts) == 3 and parts[0] == "files" and parts[2] == "content" and method == "GET":
            with self._lock:
                stored = self._files.get(parts[1])
            if stored is None:
                return self._error_reply(exchange, 404, f"No such File object: {parts[1]}", code=None)
            headers = self._response_headers(exchange)
            headers["content-type"] = "application/octet-stream"
            return HttpReply(200, stored[1], headers=headers)
        if parts == ["batches"] and method == "POST":
            return self._create_batch(exchange)
        if len(parts) >= 2 and parts[0] == "batches":
            with self._lock:
                batch = self._batches.get(parts[1])
            if batch is None:
                return self._error_reply(exchange, 404, f"No batch found with id '{parts[1]}'.", code=None)
            if len(parts) == 2 and method == "GET":
                self._advance_batch(batch, str(batch.extra["endpoint"]))
                return self._json_reply(exchange, self._batch_object(batch))
            if parts[2:] == ["cancel"] and method == "POST":
                with self._lock:
                    if batch.state == "processing":
                        batch.cancelling = True
                        batch.cancel_requested_at = time.time()
                return self._json_reply(exchange, self._batch_object(batch))
        return self._error_reply(exchange, 404, f"Unknown request URL: {method} {path}.", code="unknown_url")

    def _file_object(self, file_id: str) -> dict[str, Any]:
        purpose, data, created, filename = self._files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(created),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }

    def _upload_file(self, exchange: _Exchange) -> HttpReply:
        content_type = exchange.request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return self._error_reply(exchange, 400, "Files are uploaded as multipart/form-data.", code=None)
        message = BytesParser(policy=email_policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + exchange.request.body
        )
        fields: dict[str, tuple[bytes, str | None]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (payload, part.get_filename())
        purpose = fields.get("purpose", (b"", None))[0].decode("utf-8")
        if "file" not in fields:
            return self._error_reply(exchange, 400, "Missing required parameter: 'file'.", param="file", code=None)
        if purpose not in ("batch", "assistants", "fine-tune", "vision", "user_data", "evals"):
            return self._error_reply(exchange, 400, f"Invalid value for 'purpose': {purpose!r}.", param="purpose")
        data, filename = fields["file"]
        file_id = f"file-fake{exchange.index:020d}"
        with self._lock:
            self._files[file_id] = (purpose, data, time.time(), filename or "upload.jsonl")
            return self._json_reply(exchange, self._file_object(file_id))

    def _create_batch(self, exchange: _Exchange) -> HttpReply:
        body = self._read_json(exchange)
        if isinstance(body, HttpReply):
            return body
        endpoint = body.get("endpoint")
        if endpoint not in ("/v1/chat/completions", "/v1/responses"):
            return self._error_reply(
                exchange,
                400,
                f"Invalid value for 'endpoint': {endpoint!r} (this fake batches /v1/chat/completions "
                "and /v1/responses).",
                param="endpoint",
                code=None,
            )
        if body.get("completion_window") != "24h":
            return self._error_reply(
                exchange,
                400,
                "Invalid value for 'completion_window': expected '24h'.",
                param="completion_window",
                code=None,
            )
        file_id = body.get("input_file_id")
        with self._lock:
            stored = self._files.get(str(file_id))
        if stored is None or stored[0] != "batch":
            return self._error_reply(
                exchange,
                400,
                f"Invalid 'input_file_id': {file_id!r} is not a file with purpose 'batch'.",
                param="input_file_id",
                code=None,
            )
        items: list[_BatchItem] = []
        problems: list[dict[str, Any]] = []
        seen: set[str] = set()
        for line_no, line in enumerate(stored[1].decode("utf-8").splitlines(), start=1):
            try:
                request = json.loads(line)
            except json.JSONDecodeError:
                problems.append(
                    {
                        "code": "invalid_json_line",
                        "message": "This line is not parseable as valid JSON.",
                        "param": None,
                        "line": line_no,
                    }
                )
                continue
            custom_id = request.get("custom_id") if isinstance(request, dict) else None
            if not isinstance(custom_id, str) or custom_id in seen:
                problems.append(
                    {
                        "code": "duplicate_custom_id" if custom_id in seen else "missing_required_parameter",
                        "message": "Each request needs a unique custom_id.",
                        "param": "custom_id",
                        "line": line_no,
                    }
                )
                continue
            if (
                request.get("url") != endpoint
                or request.get("method") != "POST"
                or not isinstance(request.get("body"), dict)
            ):
                problems.append(
                    {
                        "code": "mismatched_endpoint",
                        "message": f"Each request must POST to {endpoint}.",
                        "param": "url",
                        "line": line_no,
                    }
                )
                continue
            seen.add(custom_id)
            items.append(_BatchItem(custom_id, request["body"]))
        batch = self._new_batch(
            f"batch_fake{exchange.index:020d}",
            items,
            exchange.request.headers,
            endpoint=endpoint,
            input_file_id=file_id,
            metadata=body.get("metadata"),
            errors=problems,
        )
        if problems or not items:
            with self._lock:
                batch.state = "failed"
                batch.ended_at = time.time()
        return self._json_reply(exchange, self._batch_object(batch))

    def _output_files(self, batch: _FakeBatch) -> tuple[str | None, str | None]:
        """(output_file_id, error_file_id) of an ended batch, written on first use."""
        if "output_file_id" in batch.extra:
            return batch.extra["output_file_id"], batch.extra["error_file_id"]
        good: list[str] = []
        bad: list[str] = []
        for number, item in enumerate(batch.items):
            line: dict[str, Any] = {"id": f"batch_req_fake{number:016d}", "custom_id": item.custom_id}
            if item.status is None:
                code = "batch_expired" if batch.state == "expired" else "batch_cancelled"
                line |= {
                    "response": None,
                    "error": {
                        "code": code,
                        "message": (
                            "This request could not be executed before the completion window expired."
                            if code == "batch_expired"
                            else "This request was not executed: the batch was cancelled."
                        ),
                    },
                }
                bad.append(_dumps(line))
                continue
            body = (
                item.payload
                if item.payload is not None
                else {
                    "error": {
                        "message": "The server had an error.",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
            )
            line |= {
                "response": {"status_code": item.status, "request_id": f"req_fake{number:024d}", "body": body},
                "error": None,
            }
            (good if item.status == 200 else bad).append(_dumps(line))
        ids: list[str | None] = []
        for name, lines in (("output", good), ("errors", bad)):
            if not lines:
                ids.append(None)
                continue
            file_id = f"file-fake{batch.id[-12:]}{name}"
            self._files[file_id] = (
                "batch_output",
                ("\n".join(lines) + "\n").encode("utf-8"),
                time.time(),
                f"{batch.id}_{name}.jsonl",
            )
            ids.append(file_id)
        batch.extra["output_file_id"], batch.extra["error_file_id"] = ids
        return ids[0], ids[1]

    def _batch_object(self, batch: _FakeBatch) -> dict[str, Any]:
        with self._lock:
            state = batch.state
            ended = state not in ("processing",)
            status = {
                "processing": "cancelling"
                if batch.cancelling
                else ("validating" if batch.polls_left > 1 else "in_progress"),
                "ended": "completed",
                "expired": "expired",
                "cancelled": "cancelled",
                "failed": "failed",
            }.get(state, "in_progress")
            output_id, error_id = self._output_files(batch) if ended and state != "failed" else (None, None)
            done = sum(1 for item in batch.items if item.status is not None)
            failed = sum(1 for item in batch.items if item.status is not None and item.status != 200)
            created = int(batch.created_at)
            ended_at = int(batch.ended_at) if batch.ended_at else None
            errors = batch.extra.get("errors") or []
            return {
                "id": batch.id,
                "object": "batch",
                "endpoint": batch.extra["endpoint"],
                "errors": {"object": "list", "data": errors} if errors else None,
                "input_file_id": batch.extra["input_file_id"],
                "completion_window": "24h",
                "status": status,
                "output_file_id": output_id,
                "error_file_id": error_id,
                "created_at": created,
                "in_progress_at": created,
                "expires_at": created + 86_400,
                "finalizing_at": ended_at if state == "ended" else None,
                "completed_at": ended_at if state == "ended" else None,
                "failed_at": ended_at if state == "failed" else None,
                "expired_at": ended_at if state == "expired" else None,
                "cancelling_at": int(batch.cancel_requested_at) if batch.cancel_requested_at else None,
                "cancelled_at": ended_at if state == "cancelled" else None,
                "request_counts": {"total": len(batch.items), "completed": done - failed, "failed": failed},
                "metadata": batch.extra.get("metadata"),
            }

    # -- request parsing --------------------------------------------------------------------

    @staticmethod
    def _check_strict(schema: Mapping[str, Any], what: str) -> None:
        problems = strict_schema_problems(schema)
        if problems:
            raise RequestError(f"Invalid schema for {what}: {problems[0]}", param=what.split(" ")[0])

    @staticmethod
    def _content_text(content: Any, where: str) -> str:
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = []
            for part_no, part in enumerate(content):
                part = _require_dict(part, f"{where}[{part_no}]")
                if part.get("type") in ("text", "input_text", "output_text"):
                    texts.append(str(part.get("text", "")))
            return "\n".join(texts)
        raise RequestError(f"Invalid type for '{where}': expected a string or an array of content parts.", where)

    def _parse_chat(self, body: dict[str, Any], http: HttpRequest) -> LLMRequest:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError("you must provide a model parameter", param="model")
        if body.get("stream"):
            raise RequestError("this fake server does not stream; call without stream=True", param="stream")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages")
        system_parts: list[str] = []
        user_parts: list[str] = []
        for position, message in enumerate(messages):
            message = _require_dict(message, f"messages[{position}]")
            role = message.get("role")
            if role not in ("system", "developer", "user", "assistant", "tool", "function"):
                raise RequestError(
                    f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                    "'function', 'tool', and 'developer'.",
                    f"messages[{position}].role",
                )
            text = self._content_text(message.get("content"), f"messages[{position}].content")
            if role in ("system", "developer"):
                system_parts.append(text)
            elif role == "user":
                user_parts.append(text)
        max_tokens = _positive_int(body, "max_completion_tokens", required=False)
        if max_tokens is None:
            max_tokens = _positive_int(body, "max_tokens", required=False)
        n = _positive_int(body, "n", required=False) or 1
        if n > 128:
            raise RequestError("Invalid 'n': integer above maximum value. Expected a value <= 128.", "n")

        tools: dict[str, dict[str, Any]] = {}
        for tool_no, tool in enumerate(body.get("tools") or []):
            tool = _require_dict(tool, f"tools[{tool_no}]")
            if tool.get("type") != "function":
                continue
            function = _require_dict(tool.get("function"), f"tools[{tool_no}].function")
            name = function.get("name")
            if not isinstance(name, str) or not _OPENAI_NAME.match(name):
                raise RequestError(f"Invalid 'tools[{tool_no}].function.name': string does not match pattern.")
            parameters = function.get("parameters") or {"type": "object", "properties": {}}
            if function.get("strict"):
                self._check_strict(parameters, f"tools[{tool_no}].function.parameters (function '{name}')")
            tools[name] = {**function, "parameters": parameters}
        choice = body.get("tool_choice", "auto" if tools else "none")
        forced: str | None = None
        if isinstance(choice, dict):
            forced = (choice.get("function") or {}).get("name")
            if forced not in tools:
                raise RequestError(
                    f"Invalid value for 'tool_choice': function '{forced}' is not in tools.", "tool_choice"
                )
            choice = "function"
        elif choice not in ("none", "auto", "required"):
            raise RequestError("Invalid value for 'tool_choice': expected 'none', 'auto' or 'required'.", "tool_choice")
        elif choice == "required" and not tools:
            raise RequestError("Invalid value for 'tool_choice': 'required' needs tools.", "tool_choice")

        response_format = body.get("response_format") or {"type": "text"}
        response_format = _require_dict(response_format, "response_format")
        kind: OutputKind = "text"
        name_out: str | None = None
        schema_out: Mapping[str, Any] | None = None
        format_type = response_format.get("type")
        if format_type == "json_schema":
            spec = _require_dict(response_format.get("json_schema"), "response_format.json_schema")
            name_out = spec.get("name")
            if not isinstance(name_out, str) or not _OPENAI_NAME.match(name_out):
                raise RequestError(
                    "Invalid 'response_format.json_schema.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    "response_format.json_schema.name",
                )
            schema_out = spec.get("schema") or {}
            if spec.get("strict"):
                self._check_strict(schema_out, f"response_format '{name_out}'")
            kind = "json_schema"
        elif format_type == "json_object":
            if not any("json" in m.lower() for m in [*system_parts, *user_parts]):
                raise RequestError(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                    "'json_object'.",
                    "messages",
                )
            kind = "json_object"
        elif format_type != "text":
            raise RequestError(
                f"Invalid value: '{format_type}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
                "response_format.type",
            )
        if tools and choice != "none":
            tool = tools[forced] if forced else next(iter(tools.values()))
            kind, name_out, schema_out = "tool", tool["name"], tool["parameters"]
        return LLMRequest(
            provider="openai",
            endpoint=http.path,
            model=model,
            system_text="\n".join(system_parts),
            user_text="\n".join(user_parts),
            output_kind=kind,
            output_name=name_out,
            output_schema=schema_out,
            max_tokens=max_tokens,
            body=body,
            headers={k: v for k, v in http.headers.items() if k not in CREDENTIAL_HEADERS},
        )

    def _parse_responses(self, body: dict[str, Any], http: HttpRequest) -> LLMRequest:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError("Missing required parameter: 'model'.", param="model")
        if body.get("stream"):
            raise RequestError("this fake server does not stream; call without stream=True", param="stream")
        system_parts: list[str] = []
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            system_parts.append(instructions)
        user_parts: list[str] = []
        items = body.get("input")
        if isinstance(items, str):
            user_parts.append(items)
        elif isinstance(items, list):
            for item_no, item in enumerate(items):
                item = _require_dict(item, f"input[{item_no}]")
                role = item.get("role")
                if role is None:
                    continue  # function_call_output and other non-message items
                text = self._content_text(item.get("content"), f"input[{item_no}].content")
                if role in ("system", "developer"):
                    system_parts.append(text)
                elif role == "user":
                    user_parts.append(text)
        elif items is not None:
            raise RequestError("Invalid type for 'input': expected a string or an array of input items.", "input")
        max_tokens = _positive_int(
            body, "max_output_tokens", required=False, minimum=OPENAI_RESPONSES_MIN_OUTPUT_TOKENS
        )

        tools: dict[str, dict[str, Any]] = {}
        for tool_no, tool in enumerate(body.get("tools") or []):
            tool = _require_dict(tool, f"tools[{tool_no}]")
            if tool.get("type") != "function":
                continue
            name = tool.get("name")
            if not isinstance(name, str) or not _OPENAI_NAME.match(name):
                raise RequestError(f"Invalid 'tools[{tool_no}].name': string does not match pattern.")
            parameters = tool.get("parameters") or {"type": "object", "properties": {}}
            if tool.get("strict", True):
                self._check_strict(parameters, f"tools[{tool_no}].parameters (function '{name}')")
            tools[name] = {**tool, "parameters": parameters}
        choice = body.get("tool_choice", "auto")
        forced: str | None = None
        if isinstance(choice, dict):
            forced = choice.get("name")
            if forced not in tools:
                raise RequestError(f"Tool choice '{forced}' not found in 'tools' parameter.", "tool_choice")
            choice = "function"

        text_config = _require_dict(body.get("text") or {}, "text")
        text_format = _require_dict(text_config.get("format") or {"type": "text"}, "text.format")
        kind: OutputKind = "text"
        name_out: str | None = None
        schema_out: Mapping[str, Any] | None = None
        if text_format.get("type") == "json_schema":
            name_out = text_format.get("name")
            if not isinstance(name_out, str) or not _OPENAI_NAME.match(name_out):
                raise RequestError("Missing required parameter: 'text.format.name'.", "text.format.name")
            schema_out = text_format.get("schema") or {}
            if text_format.get("strict"):
                self._check_strict(schema_out, f"text.format '{name_out}'")
            kind = "json_schema"
        elif text_format.get("type") == "json_object":
            kind = "json_object"
        if tools and choice != "none":
            tool = tools[forced] if forced else next(iter(tools.values()))
            kind, name_out, schema_out = "tool", tool["name"], tool["parameters"]
        return LLMRequest(
            provider="openai",
            endpoint=http.path,
            model=model,
            system_text="\n".join(system_parts),
            user_text="\n".join(user_parts),
            output_kind=kind,
            output_name=name_out,
            output_schema=schema_out,
            max_tokens=max_tokens,
            body=body,
            headers={k: v for k, v in http.headers.items() if k not in CREDENTIAL_HEADERS},
        )

    # -- answer -----------------------------------------------------------------------------

    def _prompt_tokens(self, request: LLMRequest) -> tuple[int, int]:
        """(prompt tokens, cached tokens) with OpenAI's automatic prefix caching."""
        body = request.body
        # Tools and the schema come first, then the conversation: the stable parts lead.
        parts = [
            _dumps(body.get("tools") or []),
            _dumps(body.get("response_format") or body.get("text") or {}),
        ]
        if request.endpoint == "/v1/responses":
            parts.append(str(body.get("instructions") or ""))
            parts.append(_dumps(body.get("input")))
        else:
            parts.append(_dumps(body.get("messages")))
        prompt = "\n".join(parts)
        total = max(1, estimate_tokens(prompt))
        # Caching starts at min_cacheable_tokens (at the first 128-token step when that is 0).
        boundary = max(self.min_cacheable_tokens, OPENAI_CACHE_STEP_TOKENS)
        if total < boundary:
            return total, 0
        digest = hashlib.sha256(request.model.encode("utf-8"))
        keys: list[tuple[int, str, float]] = []
        position = 0
        while boundary <= total:
            end = boundary * CHARS_PER_TOKEN
            digest.update(prompt[position:end].encode("utf-8"))
            position = end
            keys.append((boundary, digest.hexdigest(), OPENAI_CACHE_TTL_S))
            boundary += OPENAI_CACHE_STEP_TOKENS
        return total, self._cache_lookup(keys)

    def _structured_text(self, request: LLMRequest, answer: _Answer) -> tuple[str, bool]:
        """The content / arguments text and whether it was cut by the token limit."""
        text = _dumps(answer.value) if answer.kind == "structured" else answer.text
        limit = request.max_tokens
        if answer.truncated:
            return text[: len(text) // 2], True
        if limit is not None and estimate_tokens(text) > limit:
            return text[: limit * CHARS_PER_TOKEN], True
        return text, False

    def _render(self, exchange: _Exchange, request: LLMRequest, answer: _Answer) -> tuple[dict[str, Any], TokenUsage]:
        if request.endpoint == "/v1/responses":
            return self._render_response(exchange, request, answer)
        return self._render_chat(exchange, request, answer)

    def _render_chat(
        self, exchange: _Exchange, request: LLMRequest, answer: _Answer
    ) -> tuple[dict[str, Any], TokenUsage]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        if answer.kind == "refusal":
            message["refusal"] = answer.text
            finish_reason = "stop"
            completion = estimate_tokens(answer.text)
        else:
            text, truncated = self._structured_text(request, answer)
            completion = request.max_tokens if truncated and request.max_tokens else estimate_tokens(text)
            if request.output_kind == "tool" and answer.kind == "structured":
                message["tool_calls"] = [
                    {
                        "id": f"call_fake{exchange.index:020d}",
                        "type": "function",
                        "function": {"name": request.output_name, "arguments": text},
                    }
                ]
                # OpenAI reports "stop", not "tool_calls", when tool_choice names the function.
                named = isinstance(request.body.get("tool_choice"), dict)
                finish_reason = "length" if truncated else ("stop" if named else "tool_calls")
            else:
                message["content"] = text
                finish_reason = "length" if truncated else "stop"
        completion = max(1, completion)
        n = int(request.body.get("n") or 1)
        prompt, cached = self._prompt_tokens(request)
        payload = {
            "id": f"chatcmpl-fake{exchange.index:020d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.model,
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": finish_reason} for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion * n,
                "total_tokens": prompt + completion * n,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        return payload, TokenUsage(prompt, completion * n, 0, cached)

    def _render_response(
        self, exchange: _Exchange, request: LLMRequest, answer: _Answer
    ) -> tuple[dict[str, Any], TokenUsage]:
        truncated = False
        output: list[dict[str, Any]]
        if answer.kind == "refusal":
            completion = estimate_tokens(answer.text)
            output = [
                {
                    "type": "message",
                    "id": f"msg_fake{exchange.index:020d}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "refusal", "refusal": answer.text}],
                }
            ]
        else:
            text, truncated = self._structured_text(request, answer)
            completion = request.max_tokens if truncated and request.max_tokens else estimate_tokens(text)
            status = "incomplete" if truncated else "completed"
            if request.output_kind == "tool" and answer.kind == "structured":
                output = [
                    {
                        "type": "function_call",
                        "id": f"fc_fake{exchange.index:020d}",
                        "call_id": f"call_fake{exchange.index:020d}",
                        "name": request.output_name,
                        "arguments": text,
                        "status": status,
                    }
                ]
            else:
                output = [
                    {
                        "type": "message",
                        "id": f"msg_fake{exchange.index:020d}",
                        "status": status,
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
                    }
                ]
        completion = max(1, completion)
        prompt, cached = self._prompt_tokens(request)
        body = request.body
        payload = {
            "id": f"resp_fake{exchange.index:020d}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if truncated else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": request.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
            "user": None,
            "metadata": body.get("metadata") or {},
        }
        return payload, TokenUsage(prompt, completion, 0, cached)
