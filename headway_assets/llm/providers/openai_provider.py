"""OpenAI Chat Completions through the `openai` SDK, with JSON-schema structured outputs."""

from __future__ import annotations

import json

import openai

from headway_assets.llm.providers.base import (
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


class OpenAIProvider(LlmProvider):
    """GPT models with `response_format: json_schema` (strict)."""

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        # The SDK retries 429/5xx itself with backoff and honours retry-after.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
        )

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        """One chat completion whose content is the structured answer."""
        try:
            completion = await self._client.chat.completions.create(
                model=model,
                max_completion_tokens=request.max_tokens,
                messages=[
                    {"role": "system", "content": request.system},
                    {"role": "user", "content": request.user},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.output_model.__name__,
                        "schema": strict_json_schema(request.output_model),
                        "strict": True,
                    },
                },
            )
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise LlmUnavailableError(f"openai: {type(error).__name__} after retries") from None
        except openai.APIStatusError as error:
            reason = f"openai: HTTP {error.status_code} {error.code or ''}".rstrip()
            if is_retryable_status(error.status_code):
                raise LlmUnavailableError(reason, retry_after=retry_after_seconds(error.response.headers)) from None
            raise LlmTransportError(reason) from None
        except openai.APIResponseValidationError:
            raise LlmInvalidOutputError("openai: the response body did not match the API") from None
        except (json.JSONDecodeError, ValueError) as error:
            raise LlmInvalidOutputError(f"openai: unreadable response body ({type(error).__name__})") from None

        usage = TokenUsage()
        if completion.usage is not None:
            cached = 0
            details = completion.usage.prompt_tokens_details
            if details is not None and details.cached_tokens:
                cached = details.cached_tokens
            usage = TokenUsage(
                input_tokens=completion.usage.prompt_tokens - cached,
                output_tokens=completion.usage.completion_tokens,
                cache_read_tokens=cached,
            )
        if not completion.choices:
            raise LlmInvalidOutputError("openai: no choices in the answer", usage=usage)
        choice = completion.choices[0]
        content = choice.message.content or ""
        if choice.message.refusal:
            raise LlmRefusalError("openai: the model refused", usage=usage, completion_text=choice.message.refusal)
        if choice.finish_reason == "length":
            raise LlmInvalidOutputError(
                f"openai: answer cut off at max_tokens={request.max_tokens}",
                usage=usage,
                completion_text=content,
            )
        try:
            data = json.loads(content)
        except json.JSONDecodeError:
            raise LlmInvalidOutputError(
                "openai: the answer is not valid JSON", usage=usage, completion_text=content
            ) from None
        parsed = validate_output(request, data, content, usage)
        return LlmResponse(
            parsed=parsed,
            usage=usage,
            model=completion.model,
            completion_text=content,
            finish_reason=str(choice.finish_reason),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
