"""The one small provider interface the AI tiers talk to, and the errors it may raise."""

from __future__ import annotations

import functools
import json
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from headway_assets.core.llm_catalogue import ModelPrice as ModelPrice  # prices are catalogue data


@dataclass(frozen=True)
class LlmRequest:
    """One structured-output request.

    LLM providers send `system` and `user`; the offline provider reads `payload` (the same
    input, unrendered) and computes the answer itself.
    """

    task: str
    prompt_version: str
    system: str
    user: str
    output_model: type[BaseModel]
    payload: Any = None
    max_tokens: int = 1024
    # What stays the same across an organisation's calls of a task (its taxonomy): sent right
    # after `system` and, like it, marked for the provider's prompt cache, so repeated calls pay
    # the cached rate for it (Anthropic `cache_control`; OpenAI caches a shared prefix itself).
    context: str = ""


@dataclass
class TokenUsage:
    """Tokens of one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, other: TokenUsage) -> None:
        """Accumulate `other` into this one."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens


@dataclass(frozen=True)
class ProviderOptions:
    """What the configuration may say about how to reach a provider (remote providers use it)."""

    base_url: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 4


@dataclass
class LlmResponse:
    """A validated answer plus what it cost."""

    parsed: BaseModel
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str = ""
    completion_text: str = ""
    finish_reason: str = ""


class LlmError(Exception):
    """A call that produced no usable answer. `status` is what the item's outcome records."""

    status = "error"
    retryable = False

    def __init__(self, message: str, *, usage: TokenUsage | None = None, completion_text: str = "") -> None:
        super().__init__(message)
        self.usage = usage or TokenUsage()
        self.completion_text = completion_text


class LlmInvalidOutputError(LlmError):
    """The answer was not valid JSON, was truncated, or did not match the schema."""

    status = "invalid_output"
    retryable = True


class LlmRefusalError(LlmError):
    """The model refused to answer."""

    status = "refused"


class LlmTransportError(LlmError):
    """Rate limits, server errors or timeouts that outlasted the client's own retries."""

    status = "unavailable"


class LlmUnavailableError(LlmTransportError):
    """The provider is unavailable for now (429, 408, 409, 5xx, timeout, no connection) after
    the SDK's own retries: nothing is wrong with the request, so it is worth asking again later.
    `retry_after` is the provider's last `retry-after` in seconds, when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# HTTP statuses the provider SDKs retry themselves: the provider is busy or down, not the request wrong.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Longest retry-after the engine takes at its word (a larger value is capped, not ignored).
MAX_RETRY_AFTER_SECONDS = 60.0


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status means "try again later" rather than "this request is wrong"."""
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a `retry-after-ms` or `retry-after` header (seconds or an HTTP date) asks to wait."""
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, min(float(milliseconds) / 1000, MAX_RETRY_AFTER_SECONDS))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds() if when.tzinfo else 0.0
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


class LlmProvider(ABC):
    """A way to get structured answers: Anthropic, OpenAI, or the offline classifier."""

    name: str = "provider"
    #: Whether several short items may share one call (LLMs: yes, to save calls and tokens).
    supports_batching: bool = True
    #: Whether answers are computed in this process at no cost (the offline provider): nothing is
    #: bought, so a run may write them to the cache in fewer, larger transactions.
    in_process: bool = False

    @classmethod
    def from_options(cls, options: ProviderOptions) -> LlmProvider:
        """The provider built from the configuration (the default needs none of it)."""
        return cls()

    @abstractmethod
    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """Answer `request` with `model`, validated against `request.output_model`.

        Raises a subclass of `LlmError` when no valid answer could be had.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release clients and connections."""


@dataclass
class VendorAnswer:
    """What a remote provider read from its vendor's reply, before the shared checks.

    `refusal` is the text to keep when the model refused; `problem` says why no structured
    `data` could be read (no tool call, not JSON, no choices)."""

    usage: TokenUsage
    model: str
    completion_text: str = ""
    finish_reason: str = ""
    truncated: bool = False
    refusal: str | None = None
    data: Any = None
    problem: str | None = None


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The TLS context every vendor client of this process verifies with (httpx's default: the CA
    bundle, or SSL_CERT_FILE / SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()


class RemoteProvider(LlmProvider):
    """The body both vendor SDKs share (Anthropic's and OpenAI's are generated alike): client
    construction, the mapping of SDK errors onto `LlmError`s, and the refusal, truncation and
    schema checks. A subclass names its SDK and says how to send one request and read the reply."""

    #: The vendor SDK module (`anthropic`, `openai`): its error classes share names and meaning.
    sdk: ClassVar[ModuleType]
    #: How errors name the API when its response body does not match it.
    api_name: ClassVar[str] = "the API"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        # The SDKs retry 429/5xx themselves with backoff and honour retry-after (-ms). Their default
        # HTTP client (the SDK's limits and redirects), on the process's one TLS context: building a
        # context reads the CA bundle, tens of milliseconds for every engine otherwise.
        self._client = self._make_client(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=max_retries,
            http_client=self.sdk.DefaultAsyncHttpxClient(verify=shared_tls_context()),
        )

    @classmethod
    def from_options(cls, options: ProviderOptions) -> LlmProvider:
        """The provider with the configured base URL, timeout and retries (keys from the SDK's env)."""
        return cls(base_url=options.base_url, timeout_seconds=options.timeout_seconds, max_retries=options.max_retries)

    @abstractmethod
    def _make_client(self, **settings: Any) -> Any:
        """The SDK's async client for `api_key`, `base_url`, `timeout`, `max_retries` and `http_client`."""

    @abstractmethod
    async def _send(self, request: LlmRequest, model: str) -> Any:
        """One SDK call asking for `request`'s structured answer; returns the SDK's reply."""

    def request_params(self, request: LlmRequest, model: str) -> dict[str, Any]:
        """The body `_send` posts for `request`: what a vendor batch carries per request (the batch
        path sends exactly what the live path would). Providers with a batch API override it."""
        raise NotImplementedError(f"{self.name} has no batch API")

    @abstractmethod
    def _read(self, reply: Any, request: LlmRequest) -> VendorAnswer:
        """Usage, text and structured data of the SDK's reply."""

    def _error_detail(self, error: Any) -> str:
        """The vendor's error code or type of an HTTP error, for the outcome's message."""
        return ""

    def _mapped_error(self, error: Exception) -> LlmError | None:
        """The `LlmError` an SDK exception stands for, or None when it is not the vendor's."""
        sdk = self.sdk
        if isinstance(error, sdk.APITimeoutError | sdk.APIConnectionError):
            return LlmUnavailableError(f"{self.name}: {type(error).__name__} after retries")
        if isinstance(error, sdk.APIStatusError):
            reason = f"{self.name}: HTTP {error.status_code} {self._error_detail(error)}".rstrip()
            if is_retryable_status(error.status_code):
                return LlmUnavailableError(reason, retry_after=retry_after_seconds(error.response.headers))
            return LlmTransportError(reason)
        if isinstance(error, sdk.APIResponseValidationError):
            return LlmInvalidOutputError(f"{self.name}: the response body did not match {self.api_name}")
        if isinstance(error, json.JSONDecodeError | ValueError):
            return LlmInvalidOutputError(f"{self.name}: unreadable response body ({type(error).__name__})")
        return None

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """Send `request`, then check and validate the structured answer."""
        try:
            reply = await self._send(request, model)
        except Exception as error:
            mapped = self._mapped_error(error)
            if mapped is None:
                raise
            raise mapped from None
        return self.checked(reply, request)

    def checked(self, reply: Any, request: LlmRequest) -> LlmResponse:
        """The validated answer in the SDK's `reply` to `request` (a live reply or a batch result),
        or the `LlmError` saying why there is none: refusal, truncation, no structured data, off-schema."""
        answer = self._read(reply, request)
        usage, completion = answer.usage, answer.completion_text
        if answer.refusal is not None:
            raise LlmRefusalError(f"{self.name}: the model refused", usage=usage, completion_text=answer.refusal)
        if answer.truncated:
            raise LlmInvalidOutputError(
                f"{self.name}: answer cut off at max_tokens={request.max_tokens}",
                usage=usage,
                completion_text=completion,
            )
        if answer.problem is not None:
            raise LlmInvalidOutputError(f"{self.name}: {answer.problem}", usage=usage, completion_text=completion)
        parsed = validate_output(request, answer.data, completion, usage)
        return LlmResponse(
            parsed=parsed,
            usage=usage,
            model=answer.model,
            completion_text=completion,
            finish_reason=answer.finish_reason,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def validate_output(request: LlmRequest, data: Any, completion_text: str, usage: TokenUsage) -> BaseModel:
    """Validate a provider's raw answer against the request's schema, or raise `LlmInvalidOutputError`."""
    from pydantic import ValidationError

    try:
        return request.output_model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or '<root>'}: {issue['msg']}" for issue in error.errors()[:5]
        )
        raise LlmInvalidOutputError(
            f"{request.task} answer does not match {request.output_model.__name__}: {problems}",
            usage=usage,
            completion_text=completion_text,
        ) from None
