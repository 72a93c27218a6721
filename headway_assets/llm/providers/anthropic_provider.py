"""Anthropic Messages API through the `anthropic` SDK: structured output via a forced tool call."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any, ClassVar

import anthropic
from anthropic.types import Message, MessageParam, TextBlockParam, ToolParam

from headway_assets.llm.providers.base import LlmError, LlmRequest, RemoteProvider, TokenUsage, VendorAnswer
from headway_assets.llm.providers.json_schema import strict_json_schema


class AnthropicProvider(RemoteProvider):
    """Claude models. The fixed system prompt is marked for prompt caching."""

    name = "anthropic"
    sdk: ClassVar[ModuleType] = anthropic
    api_name = "the Messages API"

    def _make_client(self, **settings: Any) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(**settings)

    async def _send(self, request: LlmRequest, model: str) -> Message:
        """One forced tool call whose input is the structured answer."""
        reply: Message = await self._client.messages.create(**self.request_params(request, model))
        return reply

    def request_params(self, request: LlmRequest, model: str) -> dict[str, Any]:
        """The Messages API body of `request`: a forced tool call, the system prompt cacheable."""
        tool_name = f"record_{request.task}"
        tool: ToolParam = {
            "name": tool_name,
            "description": f"Record the {request.task} result. Always call this tool exactly once.",
            "input_schema": strict_json_schema(request.output_model),
        }
        system: list[TextBlockParam] = [
            {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}
            for text in (request.system, request.context)
            if text
        ]
        messages: list[MessageParam] = [{"role": "user", "content": request.user}]
        return {
            "model": model,
            "max_tokens": request.max_tokens,
            "system": system,
            "messages": messages,
            "tools": [tool],
            "tool_choice": {"type": "tool", "name": tool_name},
        }

    def _read(self, reply: Message, request: LlmRequest) -> VendorAnswer:
        usage = TokenUsage(
            input_tokens=reply.usage.input_tokens or 0,
            output_tokens=reply.usage.output_tokens or 0,
            cache_read_tokens=reply.usage.cache_read_input_tokens or 0,
            cache_write_tokens=reply.usage.cache_creation_input_tokens or 0,
        )
        tool_input = next((block.input for block in reply.content if block.type == "tool_use"), None)
        completion = json.dumps(tool_input, ensure_ascii=False) if tool_input is not None else _text_of(reply)
        return VendorAnswer(
            usage=usage,
            model=reply.model,
            completion_text=completion,
            finish_reason=str(reply.stop_reason),
            truncated=reply.stop_reason == "max_tokens",
            refusal=completion if reply.stop_reason == "refusal" else None,
            data=tool_input,
            problem="no tool call in the answer" if tool_input is None else None,
        )

    def _error_detail(self, error: anthropic.APIStatusError) -> str:
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
        return str(detail.get("type", "")) or type(error).__name__


def _text_of(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in message.content)


__all__ = ["AnthropicProvider", "LlmError"]
