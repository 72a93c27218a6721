"""Anthropic Messages API through the `anthropic` SDK: structured output via a forced tool call."""

from __future__ import annotations

import json
from typing import Any

import anthropic
from anthropic.types import MessageParam, TextBlockParam, ToolParam

from headway_assets.llm.providers.base import (
    LlmError,
    LlmInvalidOutputError,
    LlmProvider,
    LlmRefusalError,
    LlmRequest,
    LlmResponse,
    LlmTransportError,
    LlmUnavailableError,
    TokenUsage,
    is_retryable_status,
    retry_after_seconds,
    validate_output,
)
from headway_assets.llm.providers.json_schema import strict_json_schema


class AnthropicProvider(LlmProvider):
    """Claude models. The fixed system prompt is marked for prompt caching."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        # The SDK retries 429/5xx itself with backoff and honours retry-after / retry-after-ms.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
        )

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """One forced tool call whose input is the structured answer."""
        tool_name = f"record_{request.task}"
        tool: ToolParam = {
            "name": tool_name,
            "description": f"Record the {request.task} result. Always call this tool exactly once.",
            "input_schema": strict_json_schema(request.output_model),
        }
        system: list[TextBlockParam] = [
            {"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}
        ]
        messages: list[MessageParam] = [{"role": "user", "content": request.user}]
        try:
            message = await self._client.messages.create(
                model=model,
                max_tokens=request.max_tokens,
                system=system,
                messages=messages,
                tools=[tool],
                tool_choice={"type": "tool", "name": tool_name},
            )
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as error:
            raise LlmUnavailableError(f"anthropic: {type(error).__name__} after retries") from None
        except anthropic.APIStatusError as error:
            reason = f"anthropic: HTTP {error.status_code} {_error_type(error)}"
            if is_retryable_status(error.status_code):
                raise LlmUnavailableError(reason, retry_after=retry_after_seconds(error.response.headers)) from None
            raise LlmTransportError(reason) from None
        except anthropic.APIResponseValidationError:
            raise LlmInvalidOutputError("anthropic: the response body did not match the Messages API") from None
        except (json.JSONDecodeError, ValueError) as error:
            raise LlmInvalidOutputError(f"anthropic: unreadable response body ({type(error).__name__})") from None

        usage = TokenUsage(
            input_tokens=message.usage.input_tokens or 0,
            output_tokens=message.usage.output_tokens or 0,
            cache_read_tokens=message.usage.cache_read_input_tokens or 0,
            cache_write_tokens=message.usage.cache_creation_input_tokens or 0,
        )
        tool_input = next((block.input for block in message.content if block.type == "tool_use"), None)
        completion = json.dumps(tool_input, ensure_ascii=False) if tool_input is not None else _text_of(message)
        if message.stop_reason == "refusal":
            raise LlmRefusalError("anthropic: the model refused", usage=usage, completion_text=completion)
        if message.stop_reason == "max_tokens":
            raise LlmInvalidOutputError(
                f"anthropic: answer cut off at max_tokens={request.max_tokens}",
                usage=usage,
                completion_text=completion,
            )
        if tool_input is None:
            raise LlmInvalidOutputError(
                "anthropic: no tool call in the answer", usage=usage, completion_text=completion
            )
        parsed = validate_output(request, tool_input, completion, usage)
        return LlmResponse(
            parsed=parsed,
            usage=usage,
            model=message.model,
            completion_text=completion,
            finish_reason=str(message.stop_reason),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()


def _text_of(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in message.content)


def _error_type(error: anthropic.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
    return str(detail.get("type", "")) or type(error).__name__


__all__ = ["AnthropicProvider", "LlmError"]
