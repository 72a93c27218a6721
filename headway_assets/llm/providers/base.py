"""The one small provider interface the AI tiers talk to, and the errors it may raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import BaseModel


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

    @abstractmethod
    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """Answer `request` with `model`, validated against `request.output_model`.

        Raises a subclass of `LlmError` when no valid answer could be had.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release clients and connections."""


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
