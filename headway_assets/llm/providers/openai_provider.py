"""OpenAI Chat Completions through the `openai` SDK, with JSON-schema structured outputs."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any, ClassVar

import openai
from openai.types.chat import ChatCompletion

from headway_assets.llm.providers.base import LlmRequest, RemoteProvider, TokenUsage, VendorAnswer
from headway_assets.llm.providers.json_schema import strict_json_schema


class OpenAIProvider(RemoteProvider):
    """GPT models with `response_format: json_schema` (strict)."""

    name = "openai"
    sdk: ClassVar[ModuleType] = openai

    def _make_client(self, **settings: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**settings)

    async def _send(self, request: LlmRequest, model: str) -> ChatCompletion:
        """One chat completion whose content is the structured answer."""
        reply: ChatCompletion = await self._client.chat.completions.create(**self.request_params(request, model))
        return reply

    def request_params(self, request: LlmRequest, model: str) -> dict[str, Any]:
        """The Chat Completions body of `request`, with a strict JSON-schema response format."""
        return {
            "model": model,
            "max_completion_tokens": request.max_tokens,
            "messages": [
                # System prompt, then the stable context: the prefix OpenAI's prompt cache reuses.
                {"role": "system", "content": f"{request.system}\n\n{request.context}".strip()},
                {"role": "user", "content": request.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": request.output_model.__name__,
                    "schema": strict_json_schema(request.output_model),
                    "strict": True,
                },
            },
        }

    def _read(self, reply: ChatCompletion, request: LlmRequest) -> VendorAnswer:
        usage = TokenUsage()
        if reply.usage is not None:
            details = reply.usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
            usage = TokenUsage(
                input_tokens=reply.usage.prompt_tokens - cached,
                output_tokens=reply.usage.completion_tokens,
                cache_read_tokens=cached,
            )
        if not reply.choices:
            return VendorAnswer(usage=usage, model=reply.model, problem="no choices in the answer")
        choice = reply.choices[0]
        content = choice.message.content or ""
        data: Any = None
        problem = None
        try:
            data = json.loads(content)
        except json.JSONDecodeError:
            problem = "the answer is not valid JSON"
        return VendorAnswer(
            usage=usage,
            model=reply.model,
            completion_text=content,
            finish_reason=str(choice.finish_reason),
            truncated=choice.finish_reason == "length",
            refusal=choice.message.refusal or None,
            data=data,
            problem=problem,
        )

    def _error_detail(self, error: openai.APIStatusError) -> str:
        return error.code or ""
