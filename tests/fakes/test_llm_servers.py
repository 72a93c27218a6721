"""The fake LLM servers and the OTLP receiver, driven by the real SDKs they stand in for."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import anthropic
import httpx
import jsonschema
import openai
import pytest
from anthropic.types import TextBlock, ToolParam, ToolUseBlock
from openai.lib._pydantic import to_strict_json_schema
from openai.types.responses import FunctionToolParam
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from headway_assets.testing.fakes.json_schema import SchemaError, schema_example, strict_schema_problems, violate_schema
from headway_assets.testing.fakes.llm_servers import (
    DEFAULT_TEXT_ANSWER,
    FakeAnthropicServer,
    FakeOpenAIServer,
    Fault,
    FaultKind,
    LLMRequest,
    estimate_tokens,
)
from headway_assets.testing.fakes.otlp_receiver import OTLPReceiver, basic_auth_header

MODEL = "claude-test-model"
OPENAI_MODEL = "gpt-test-model"


class Label(BaseModel):
    """A tier-1 style label, as Headway asks for it."""

    model_config = ConfigDict(extra="forbid")

    is_feedback: bool
    category: Literal["feature_request", "bug_report", "praise", "other"]
    relevance: int = Field(ge=0, le=10)
    confidence: float = Field(ge=0.0, le=1.0)


class Mention(BaseModel):
    """A nested shape with `$defs`, optional fields and lists, to exercise the default responder."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=12, max_length=80)
    quote: str | None
    urgency: Literal["low", "medium", "high"]
    labels: list[Label] = Field(min_length=2)
    score: float = Field(gt=0.5, lt=0.9)
    tags: list[str]


LABEL_TOOL: ToolParam = {
    "name": "record_label",
    "description": "Record the label of one message.",
    "input_schema": Label.model_json_schema(),
}


def label_responder(request: LLMRequest) -> dict[str, Any]:
    """Answers from the request text, so tests can tell it was used."""
    is_bug = "crash" in request.user_text
    return {
        "is_feedback": True,
        "category": "bug_report" if is_bug else "feature_request",
        "relevance": 9 if is_bug else 7,
        "confidence": 0.8,
    }


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(responder=label_responder) as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=label_responder) as server:
        yield server


def anthropic_client(server: FakeAnthropicServer, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(**server.client_kwargs(), **options)


def openai_client(server: FakeOpenAIServer, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(**server.client_kwargs(), **options)


def label_call(client: anthropic.Anthropic, text: str = "Please add CSV export", **extra: Any) -> Any:
    return client.messages.create(
        model=MODEL,
        max_tokens=extra.pop("max_tokens", 300),
        system=extra.pop("system", "You label customer messages."),
        messages=[{"role": "user", "content": text}],
        tools=[LABEL_TOOL],
        tool_choice={"type": "tool", "name": "record_label"},
        **extra,
    )


# -- Anthropic -------------------------------------------------------------------------------


def test_anthropic_tool_use_returns_the_responder_input(anthropic_server: FakeAnthropicServer) -> None:
    seen: list[LLMRequest] = []

    def responder(request: LLMRequest) -> dict[str, Any]:
        seen.append(request)
        return label_responder(request)

    anthropic_server.set_responder(responder)
    with anthropic_client(anthropic_server) as client:
        message = label_call(client, "The app crashes on login")

    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use" and block.name == "record_label" and block.id.startswith("toolu_")
    assert Label.model_validate(block.input) == Label(
        is_feedback=True, category="bug_report", relevance=9, confidence=0.8
    )
    [request] = seen
    assert request.provider == "anthropic" and request.model == MODEL
    assert request.system_text == "You label customer messages."
    assert request.user_text == "The app crashes on login"
    assert request.output_kind == "tool" and request.output_name == "record_label"
    assert request.output_schema == Label.model_json_schema()
    # Usage is the deterministic character estimate, and the server's totals agree with it.
    assert message.usage.output_tokens == estimate_tokens(json.dumps(block.input))
    assert message.usage.input_tokens > estimate_tokens("The app crashes on login")
    stats = anthropic_server.stats()
    assert stats.calls_by_endpoint == {"/v1/messages": 1}
    assert stats.input_tokens == message.usage.input_tokens
    assert stats.output_tokens == message.usage.output_tokens
    assert stats.total_tokens == message.usage.input_tokens + message.usage.output_tokens


def test_anthropic_records_requests_without_the_key(anthropic_server: FakeAnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        label_call(client, "first")
        label_call(client, "second")
    records = anthropic_server.requests
    assert [r.index for r in records] == [0, 1]
    assert [r.body["messages"][0]["content"] for r in records] == ["first", "second"]
    assert all(r.status == 200 and r.path == "/v1/messages" for r in records)
    assert records[0].received_at <= records[1].received_at
    # The anthropic 2.x SDK sends its key as a bearer token; the record keeps the header name only.
    assert records[0].headers["authorization"] == "[redacted]"
    assert anthropic_server.api_key and anthropic_server.api_key not in json.dumps(dict(records[0].headers))
    assert records[0].headers["anthropic-version"]
    assert records[1].usage is not None and records[1].usage.output_tokens > 0


def test_anthropic_prompt_caching_creates_then_reads(anthropic_server: FakeAnthropicServer) -> None:
    system = [{"type": "text", "text": "Label feedback. " * 200, "cache_control": {"type": "ephemeral"}}]
    with anthropic_client(anthropic_server) as client:
        first = label_call(client, "one", system=system)
        second = label_call(client, "two", system=system)
        other = label_call(client, "three", system=[{**system[0], "text": "Other rules. " * 200}])
        uncached = label_call(client, "four", system="Label feedback. " * 200)

    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    # The cached prefix covers tools + system, so the uncached rest is the same small number.
    assert second.usage.input_tokens == first.usage.input_tokens
    assert other.usage.cache_creation_input_tokens > 0 and other.usage.cache_read_input_tokens == 0
    assert uncached.usage.cache_creation_input_tokens == 0 and uncached.usage.cache_read_input_tokens == 0
    stats = anthropic_server.stats()
    assert stats.cache_read_input_tokens == second.usage.cache_read_input_tokens
    assert stats.cache_creation_input_tokens == (
        first.usage.cache_creation_input_tokens + other.usage.cache_creation_input_tokens
    )


def test_anthropic_structured_output_parses_into_a_model(anthropic_server: FakeAnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        parsed = client.messages.parse(
            model=MODEL,
            max_tokens=300,
            messages=[{"role": "user", "content": "Export to CSV please"}],
            output_format=Label,
        )
    assert parsed.stop_reason == "end_turn"
    assert parsed.parsed_output == Label(is_feedback=True, category="feature_request", relevance=7, confidence=0.8)
    request = anthropic_server.requests[0].llm_request
    assert request is not None and request.output_kind == "json_schema"


def test_anthropic_rejects_a_wrong_or_missing_key_and_a_missing_version(
    anthropic_server: FakeAnthropicServer,
) -> None:
    wrong = anthropic.Anthropic(base_url=anthropic_server.base_url, api_key="wrong", max_retries=0)
    with wrong as client, pytest.raises(anthropic.AuthenticationError) as caught:
        label_call(client)
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": caught.value.request_id,
    }
    url = f"{anthropic_server.base_url}/v1/messages"
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    missing = httpx.post(url, json=body, headers={"anthropic-version": "2023-06-01"})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
    by_header = httpx.post(
        url,
        json=body,
        headers={"anthropic-version": "2023-06-01", "x-api-key": anthropic_server.api_key or ""},
    )
    assert by_header.status_code == 200 and by_header.json()["content"][0]["type"] == "text"
    no_version = httpx.post(url, json=body, headers={"x-api-key": anthropic_server.api_key or ""})
    assert no_version.status_code == 400
    assert no_version.json()["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }


def test_anthropic_rejects_invalid_requests_with_400(anthropic_server: FakeAnthropicServer) -> None:
    with anthropic_client(anthropic_server, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            client.messages.create(
                model=MODEL,
                max_tokens=10,
                messages=[{"role": "system", "content": "be nice"}],
            )
        assert caught.value.type == "invalid_request_error"
        assert "top-level `system` parameter" in (caught.value.api_message or "")
        with pytest.raises(anthropic.BadRequestError, match="not found"):
            client.messages.create(
                model=MODEL,
                max_tokens=10,
                messages=[{"role": "user", "content": "hi"}],
                tools=[LABEL_TOOL],
                tool_choice={"type": "tool", "name": "no_such_tool"},
            )
    assert anthropic_server.stats().status_counts == {400: 2}


def test_anthropic_sdk_retry_honours_integer_retry_after(anthropic_server: FakeAnthropicServer) -> None:
    rule = anthropic_server.fail_next(1, Fault.rate_limit(retry_after=1))
    with anthropic_client(anthropic_server, max_retries=2) as client:
        message = label_call(client)
    assert message.stop_reason == "tool_use"
    first, second = anthropic_server.requests
    assert (first.status, first.fault, second.status) == (429, FaultKind.RATE_LIMIT, 200)
    # The SDK's own backoff for a first retry is 0.375-0.5 s; a 1 s gap means it obeyed the header.
    assert 1.0 <= second.received_at - first.received_at < 1.6
    assert second.headers["x-stainless-retry-count"] == "1"
    assert rule.hits == 1 and rule.exhausted


def test_anthropic_rate_limit_error_shape(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.fail_next(1, Fault.rate_limit(retry_after=7))
    with (
        anthropic_client(anthropic_server, max_retries=0) as client,
        pytest.raises(anthropic.RateLimitError) as caught,
    ):
        label_call(client)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.type == "rate_limit_error"
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert anthropic_server.calls("/v1/messages") == 1


def test_an_outage_fails_every_request_for_its_time_then_ends(anthropic_server: FakeAnthropicServer) -> None:
    outage = anthropic_server.start_outage(
        0.6, [Fault.rate_limit(retry_after=0), Fault.server_error(503)], after_calls=1
    )
    with anthropic_client(anthropic_server, max_retries=0) as client:
        assert label_call(client).stop_reason == "tool_use"  # before the outage starts
        assert outage.started_at is None
        with pytest.raises(anthropic.RateLimitError):
            label_call(client)
        with pytest.raises(anthropic.InternalServerError) as caught:
            label_call(client)
        assert caught.value.status_code == 503
        assert outage.ends_at is not None and not outage.over()
        time.sleep(max(0.0, outage.ends_at - time.monotonic()) + 0.05)
        assert outage.over()
        assert label_call(client).stop_reason == "tool_use"
    assert [r.status for r in anthropic_server.requests] == [200, 429, 503, 200]
    assert outage.hits == 2
    with pytest.raises(ValueError, match="rate limits, server errors or timeouts"):
        anthropic_server.start_outage(1, [Fault.refusal()])


def test_anthropic_5xx_is_retried_and_529_is_overloaded(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.fail_next(2, Fault.server_error(500, retry_after=0.01))
    with anthropic_client(anthropic_server, max_retries=2) as client:
        assert label_call(client).stop_reason == "tool_use"
    assert [r.status for r in anthropic_server.requests] == [500, 500, 200]

    anthropic_server.reset_records()
    anthropic_server.fail_next(1, Fault.overloaded())
    with (
        anthropic_client(anthropic_server, max_retries=0) as client,
        pytest.raises(anthropic.OverloadedError) as caught,
    ):
        label_call(client)
    assert caught.value.status_code == 529 and caught.value.type == "overloaded_error"


def test_anthropic_timeout_raises_the_sdk_timeout_error(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.fail_next(1, Fault.timeout(seconds=10))
    started = time.monotonic()
    with anthropic_client(anthropic_server, max_retries=0, timeout=0.3) as client:
        with pytest.raises(anthropic.APITimeoutError):
            label_call(client)
        assert time.monotonic() - started < 2.0
        # The hung request does not block the next one.
        assert label_call(client).stop_reason == "tool_use"


def test_anthropic_malformed_and_truncated_bodies_reach_the_client(
    anthropic_server: FakeAnthropicServer,
) -> None:
    with anthropic_client(anthropic_server, max_retries=0) as client:
        anthropic_server.fail_next(1, Fault.malformed_json())
        with pytest.raises(json.JSONDecodeError):
            label_call(client)
        anthropic_server.fail_next(1, Fault.truncated_json())
        with pytest.raises(json.JSONDecodeError):
            label_call(client)
        anthropic_server.fail_next(1, Fault.truncated_body())
        with pytest.raises(anthropic.APIConnectionError):
            label_call(client)
    # A body cut in transit is a connection error, which the SDK retries.
    anthropic_server.fail_next(1, Fault.truncated_body())
    with anthropic_client(anthropic_server, max_retries=1) as client:
        assert label_call(client).stop_reason == "tool_use"
    faults = [r.fault for r in anthropic_server.requests]
    assert faults == [
        FaultKind.MALFORMED_JSON,
        FaultKind.TRUNCATED_JSON,
        FaultKind.TRUNCATED_BODY,
        FaultKind.TRUNCATED_BODY,
        None,
    ]


def test_anthropic_max_tokens_cuts_the_tool_input(anthropic_server: FakeAnthropicServer) -> None:
    full = {"is_feedback": True, "category": "feature_request", "relevance": 7, "confidence": 0.8}
    with anthropic_client(anthropic_server) as client:
        anthropic_server.fail_next(1, Fault.truncated_answer())
        forced = label_call(client)
        natural = label_call(client, max_tokens=8)
    for message in (forced, natural):
        assert message.stop_reason == "max_tokens"
        [block] = message.content
        assert block.type == "tool_use"
        assert block.input != full
        assert set(block.input) < set(full)
        with pytest.raises(ValidationError):
            Label.model_validate(block.input)
    assert natural.usage.output_tokens == 8


def test_anthropic_refusal_schema_invalid_and_malformed_answers(
    anthropic_server: FakeAnthropicServer,
) -> None:
    anthropic_server.add_fault(Fault.refusal(), user_text_contains="REFUSE")
    anthropic_server.add_fault(Fault.schema_invalid(), user_text_contains="INVALID")
    anthropic_server.add_fault(Fault.malformed_answer(), when=lambda r: r.user_text.endswith("PROSE"))
    with anthropic_client(anthropic_server) as client:
        refused = label_call(client, "please REFUSE")
        invalid = label_call(client, "INVALID answer")
        prose = label_call(client, "answer in PROSE")
        fine = label_call(client, "a normal message")

    assert refused.stop_reason == "refusal" and refused.content == []
    assert refused.stop_details is not None and refused.stop_details.type == "refusal"
    assert invalid.stop_reason == "tool_use"
    with pytest.raises(ValidationError):
        Label.model_validate(invalid.content[0].input)
    assert prose.stop_reason == "end_turn" and [b.type for b in prose.content] == ["text"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(prose.content[0].text)
    assert Label.model_validate(fine.content[0].input).category == "feature_request"
    assert anthropic_server.stats().faults_applied == {
        "refusal": 1,
        "schema_invalid": 1,
        "malformed_answer": 1,
    }


def test_anthropic_responder_failure_is_a_clear_500(anthropic_server: FakeAnthropicServer) -> None:
    def broken(request: LLMRequest) -> dict[str, Any]:
        raise KeyError("no canned answer for this text")

    anthropic_server.set_responder(broken)
    with (
        anthropic_client(anthropic_server, max_retries=2) as client,
        pytest.raises(anthropic.InternalServerError) as caught,
    ):
        label_call(client)
    assert "KeyError" in (caught.value.api_message or "")
    # x-should-retry: false stops the SDK from repeating a deterministic failure.
    assert anthropic_server.calls() == 1


def test_anthropic_concurrent_calls_overlap(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.latency_s = 0.4

    async def run() -> list[Any]:
        async with anthropic.AsyncAnthropic(**anthropic_server.client_kwargs()) as client:
            return await asyncio.gather(
                *[
                    client.messages.create(
                        model=MODEL,
                        max_tokens=100,
                        messages=[{"role": "user", "content": f"message {i}"}],
                        tools=[LABEL_TOOL],
                        tool_choice={"type": "tool", "name": "record_label"},
                    )
                    for i in range(16)
                ]
            )

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started
    assert len(results) == 16 and all(r.stop_reason == "tool_use" for r in results)
    assert 0.4 <= elapsed < 1.2, f"16 calls at 0.4 s latency took {elapsed:.2f} s"
    stats = anthropic_server.stats()
    assert stats.max_in_flight == 16 and stats.in_flight == 0
    assert stats.calls_by_endpoint["/v1/messages"] == 16


def test_sequential_calls_are_cheap_enough_for_benchmarks(anthropic_server: FakeAnthropicServer) -> None:
    with anthropic_client(anthropic_server) as client:
        label_call(client)
        durations = []
        for i in range(40):
            started = time.monotonic()
            label_call(client, f"message {i}")
            durations.append(time.monotonic() - started)
    # Without TCP_NODELAY every answer waits ~40 ms for a delayed ACK; about 2 ms is normal. The
    # median, not the mean: one call stalled by the machine (seen on a loaded CI runner, 32 ms on
    # average) is not the regression this guards against, which slows every call.
    per_call = statistics.median(durations)
    assert per_call < 0.02, f"{per_call * 1000:.1f} ms per call (median of 40)"
    assert anthropic_server.calls("/v1/messages") == 41


def test_latency_and_faults_change_while_running(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.latency_s = 0.6
    slow_done: list[float] = []

    def slow_call() -> None:
        with anthropic_client(anthropic_server) as client:
            label_call(client, "slow")
        slow_done.append(time.monotonic())

    thread = threading.Thread(target=slow_call)
    thread.start()
    while anthropic_server.stats().in_flight == 0:
        time.sleep(0.005)
    anthropic_server.latency_s = 0.0
    with anthropic_client(anthropic_server, max_retries=0) as client:
        started = time.monotonic()
        assert label_call(client, "fast").stop_reason == "tool_use"
        assert time.monotonic() - started < 0.3
        assert not slow_done, "the fast call should finish while the slow one still waits"
        anthropic_server.fail_next(1, Fault.bad_request("prompt is too long: 300000 tokens > 200000 maximum"))
        with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
            label_call(client)
    thread.join(timeout=5)
    assert slow_done
    assert anthropic_server.stats().max_in_flight == 2


# -- OpenAI ----------------------------------------------------------------------------------


def parse_label(client: openai.OpenAI, text: str = "Please add CSV export", **extra: Any) -> Any:
    return client.chat.completions.parse(
        model=OPENAI_MODEL,
        messages=[
            {"role": "system", "content": "You label customer messages."},
            {"role": "user", "content": text},
        ],
        response_format=Label,
        **extra,
    )


def test_openai_structured_output_parses_into_a_model(openai_server: FakeOpenAIServer) -> None:
    with openai_client(openai_server) as client:
        completion = parse_label(client, "It crashes when I click save")
    assert completion.object == "chat.completion" and completion.model == OPENAI_MODEL
    [choice] = completion.choices
    assert choice.finish_reason == "stop" and choice.message.refusal is None
    assert choice.message.parsed == Label(is_feedback=True, category="bug_report", relevance=9, confidence=0.8)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == estimate_tokens(choice.message.content or "")
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    [record] = openai_server.requests
    assert record.path == "/v1/chat/completions"
    assert record.body["response_format"]["json_schema"]["name"] == "Label"
    assert record.body["response_format"]["json_schema"]["strict"] is True
    assert record.llm_request is not None and record.llm_request.system_text == "You label customer messages."
    assert record.headers["authorization"] == "[redacted]"
    assert openai_server.stats().total_tokens == completion.usage.total_tokens


def test_openai_function_calling(openai_server: FakeOpenAIServer) -> None:
    with openai_client(openai_server) as client:
        completion = client.chat.completions.parse(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "Dark mode please"}],
            tools=[openai.pydantic_function_tool(Label, name="record_label")],
        )
        forced = client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "Dark mode please"}],
            tools=[openai.pydantic_function_tool(Label, name="record_label")],
            tool_choice={"type": "function", "function": {"name": "record_label"}},
        )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.function.name == "record_label"
    assert call.function.parsed_arguments == Label(
        is_feedback=True, category="feature_request", relevance=7, confidence=0.8
    )
    # With a named tool_choice OpenAI reports finish_reason "stop".
    assert forced.choices[0].finish_reason == "stop"
    assert json.loads(forced.choices[0].message.tool_calls[0].function.arguments)["relevance"] == 7  # type: ignore[index,union-attr]


def test_openai_responses_api_parse(openai_server: FakeOpenAIServer) -> None:
    with openai_client(openai_server) as client:
        response = client.responses.parse(
            model=OPENAI_MODEL, instructions="Label it.", input="The export crashes", text_format=Label
        )
    assert response.status == "completed"
    assert response.output_parsed == Label(is_feedback=True, category="bug_report", relevance=9, confidence=0.8)
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert openai_server.stats().calls_by_endpoint == {"/v1/responses": 1}


def test_openai_refusal_and_truncation(openai_server: FakeOpenAIServer) -> None:
    openai_server.add_fault(Fault.refusal(), user_text_contains="REFUSE", endpoint="/v1/chat/completions")
    openai_server.add_fault(Fault.truncated_answer(), user_text_contains="LONG")
    with openai_client(openai_server) as client:
        refused = parse_label(client, "REFUSE this")
        with pytest.raises(openai.LengthFinishReasonError):
            parse_label(client, "a LONG answer")
        cut = client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "a LONG answer"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Label", "schema": Label.model_json_schema()},
            },
        )
        limited = client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "short"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Label", "schema": Label.model_json_schema()},
            },
            max_completion_tokens=5,
        )
        responses_refusal = client.responses.create(model=OPENAI_MODEL, input="REFUSE")
    message = refused.choices[0].message
    assert message.refusal and message.content is None and message.parsed is None
    for completion in (cut, limited):
        assert completion.choices[0].finish_reason == "length"
        with pytest.raises(json.JSONDecodeError):
            json.loads(completion.choices[0].message.content or "")
    assert limited.usage is not None and limited.usage.completion_tokens == 5
    # The refusal rule was limited to chat completions.
    assert responses_refusal.output[0].type == "message"
    assert json.loads(responses_refusal.output_text)["category"] == "feature_request"


def test_openai_schema_invalid_and_malformed_answers(openai_server: FakeOpenAIServer) -> None:
    with openai_client(openai_server) as client:
        openai_server.fail_next(1, Fault.schema_invalid())
        with pytest.raises(ValidationError):
            parse_label(client)
        openai_server.fail_next(1, Fault.malformed_answer())
        with pytest.raises(ValidationError):
            parse_label(client)
        openai_server.fail_next(1, Fault.malformed_json())
        with pytest.raises(json.JSONDecodeError):
            parse_label(client)
    assert [r.fault for r in openai_server.requests] == [
        FaultKind.SCHEMA_INVALID,
        FaultKind.MALFORMED_ANSWER,
        FaultKind.MALFORMED_JSON,
    ]


def test_openai_auth_and_strict_schema_errors(openai_server: FakeOpenAIServer) -> None:
    wrong = openai.OpenAI(base_url=openai_server.base_url, api_key="sk-wrong-key-123", max_retries=0)
    with wrong as client, pytest.raises(openai.AuthenticationError) as caught:
        parse_label(client)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert "sk-wrong-key-123" not in caught.value.message

    loose: dict[str, object] = {"type": "object", "properties": {"a": {"type": "string"}}}
    with openai_client(openai_server, max_retries=0) as client, pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Loose", "schema": loose, "strict": True},
            },
        )
    assert "additionalProperties" in bad.value.message
    assert openai_server.stats().status_counts == {401: 1, 400: 1}


def test_openai_retry_honours_fractional_retry_after_and_5xx(openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(1, Fault.rate_limit(retry_after=0.6))
    with openai_client(openai_server, max_retries=2) as client:
        assert parse_label(client).choices[0].message.parsed is not None
    first, second = openai_server.requests
    assert (first.status, second.status) == (429, 200)
    # The SDK's own backoff waits at most 0.5 s before a first retry; 0.6 s means it used the header.
    assert 0.6 <= second.received_at - first.received_at < 1.2

    openai_server.reset_records()
    openai_server.fail_next(2, Fault.rate_limit(retry_after=0.01))
    with openai_client(openai_server, max_retries=2) as client:
        assert parse_label(client).choices[0].message.parsed is not None
    assert [r.status for r in openai_server.requests] == [429, 429, 200]

    openai_server.reset_records()
    openai_server.fail_next(1, Fault.server_error(502, retry_after=0.01))
    openai_server.fail_next(1, Fault.server_error(503, retry_after=0.01))
    with openai_client(openai_server, max_retries=2) as client:
        assert parse_label(client).choices[0].message.parsed is not None
    assert [r.status for r in openai_server.requests] == [502, 503, 200]
    with openai_client(openai_server, max_retries=0) as client:
        openai_server.fail_next(1, Fault.rate_limit(retry_after=3))
        with pytest.raises(openai.RateLimitError) as caught:
            parse_label(client)
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.code == "rate_limit_exceeded"


def test_openai_timeout_raises_the_sdk_timeout_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.add_fault(Fault.timeout(seconds=10), user_text_contains="hang")
    with openai_client(openai_server, max_retries=0, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            parse_label(client, "please hang")
        assert time.monotonic() - started < 2.0
        assert parse_label(client, "fine").choices[0].message.parsed is not None


def test_openai_automatic_prompt_caching(openai_server: FakeOpenAIServer) -> None:
    long_rules = "Rule: label product feedback carefully. " * 150  # about 1,500 tokens
    with openai_client(openai_server) as client:
        first = client.chat.completions.parse(
            model=OPENAI_MODEL,
            messages=[{"role": "system", "content": long_rules}, {"role": "user", "content": "first"}],
            response_format=Label,
        )
        second = client.chat.completions.parse(
            model=OPENAI_MODEL,
            messages=[{"role": "system", "content": long_rules}, {"role": "user", "content": "second"}],
            response_format=Label,
        )
        short = parse_label(client, "short prompts are never cached")
    assert first.usage and second.usage and short.usage
    assert first.usage.prompt_tokens >= 1024
    assert first.usage.prompt_tokens_details and first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens if second.usage.prompt_tokens_details else None
    assert cached is not None and cached >= 1024 and cached % 128 == 0
    assert cached < second.usage.prompt_tokens
    assert short.usage.prompt_tokens_details and short.usage.prompt_tokens_details.cached_tokens == 0
    assert openai_server.stats().cache_read_input_tokens == cached


def test_openai_concurrent_calls_overlap(openai_server: FakeOpenAIServer) -> None:
    openai_server.latency_s = 0.4

    async def run() -> list[Any]:
        async with openai.AsyncOpenAI(**openai_server.client_kwargs()) as client:
            return await asyncio.gather(
                *[
                    client.chat.completions.parse(
                        model=OPENAI_MODEL,
                        messages=[{"role": "user", "content": f"m{i}"}],
                        response_format=Label,
                    )
                    for i in range(16)
                ]
            )

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started
    assert all(r.choices[0].message.parsed is not None for r in results)
    assert 0.4 <= elapsed < 1.2, f"16 calls at 0.4 s latency took {elapsed:.2f} s"
    assert openai_server.stats().max_in_flight == 16


# -- the default responder -------------------------------------------------------------------


def test_default_responder_answers_any_schema() -> None:
    for model in (Label, Mention):
        schema = model.model_json_schema()
        answer = schema_example(schema)
        model.model_validate(answer)
        jsonschema.validate(answer, schema)
        broken = violate_schema(answer, schema)
        with pytest.raises(ValidationError):
            model.model_validate(broken)
    raw = {
        "type": "object",
        "required": ["ids", "when", "level", "ratio", "nothing"],
        "properties": {
            "ids": {
                "type": "array",
                "items": {"type": "integer", "minimum": 3},
                "minItems": 3,
                "uniqueItems": True,
            },
            "when": {"type": "string", "format": "date-time"},
            "level": {"type": "integer", "exclusiveMinimum": 4, "multipleOf": 5},
            "ratio": {"type": ["number", "null"], "maximum": -2},
            "nothing": {"type": "null"},
        },
        "additionalProperties": False,
    }
    answer = schema_example(raw)
    jsonschema.validate(answer, raw)
    assert answer["ids"] == [3, 4, 5] and answer["level"] == 5 and answer["ratio"] == -2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(violate_schema(answer, raw), raw)
    with pytest.raises(SchemaError, match="accepts any JSON value"):
        violate_schema("x", {})


def test_servers_answer_out_of_the_box_with_the_default_responder() -> None:
    with FakeAnthropicServer() as anthropic_fake, FakeOpenAIServer() as openai_fake:
        with anthropic.Anthropic(**anthropic_fake.client_kwargs()) as client:
            tool: ToolParam = {"name": "mention", "input_schema": Mention.model_json_schema()}
            message = client.messages.create(
                model=MODEL,
                max_tokens=1000,
                messages=[{"role": "user", "content": "hi"}],
                tools=[tool],
                tool_choice={"type": "any"},
            )
            text = client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        label_function: FunctionToolParam = {
            "type": "function",
            "name": "record_label",
            "parameters": to_strict_json_schema(Label),
            "strict": True,
        }
        with openai.OpenAI(**openai_fake.client_kwargs()) as oa:
            parsed = oa.chat.completions.parse(
                model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}], response_format=Mention
            )
            called = oa.responses.create(
                model=OPENAI_MODEL,
                input=[{"role": "user", "content": "hi"}],
                tools=[label_function],
                tool_choice={"type": "function", "name": "record_label"},
            )
            as_json = oa.chat.completions.create(
                model=OPENAI_MODEL,
                messages=[{"role": "user", "content": "answer in JSON"}],
                response_format={"type": "json_object"},
            )
            with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
                oa.chat.completions.create(
                    model=OPENAI_MODEL,
                    messages=[{"role": "user", "content": "hi"}],
                    response_format={"type": "json_object"},
                )
            with pytest.raises(openai.NotFoundError):
                oa.embeddings.create(model="text-embedding-3-small", input="hi")
    [block] = message.content
    assert isinstance(block, ToolUseBlock) and block.name == "mention"
    Mention.model_validate(block.input)
    [text_block] = text.content
    assert isinstance(text_block, TextBlock) and text_block.text == DEFAULT_TEXT_ANSWER
    assert isinstance(parsed.choices[0].message.parsed, Mention)
    [call] = called.output
    assert call.type == "function_call" and call.name == "record_label"
    Label.model_validate_json(call.arguments)
    assert json.loads(as_json.choices[0].message.content or "") == {"answer": "example"}


def test_strict_schema_problems_match_openai_rules() -> None:
    assert strict_schema_problems(to_strict_json_schema(Mention)) == []
    problems = strict_schema_problems(
        {
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {}}},
            "additionalProperties": False,
        }
    )
    assert any("Missing 'a'" in p for p in problems)
    assert any("('properties', 'a')" in p and "additionalProperties" in p for p in problems)


# -- OTLP receiver ---------------------------------------------------------------------------


def make_provider(exporter: OTLPSpanExporter, *, batch: bool) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "headway-test"}))
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=50) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider


def test_otlp_exporter_spans_reach_the_langfuse_path_with_basic_auth() -> None:
    auth = basic_auth_header("pk-lf-test", "sk-lf-test")
    with OTLPReceiver(expected_authorization=auth) as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.langfuse_traces_endpoint, headers={"Authorization": auth})
        provider = make_provider(exporter, batch=False)
        tracer = provider.get_tracer("headway.llm")
        with tracer.start_as_current_span("llm.call") as span:
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute("gen_ai.usage.input_tokens", 120)
            span.set_attribute("latency_s", 0.25)
            span.set_attribute("cached", True)
            span.set_attribute("labels", ["a", "b"])
            with tracer.start_as_current_span("llm.retry") as child:
                child.set_status(Status(StatusCode.ERROR, "rate limited"))
        provider.shutdown()
        spans = receiver.wait_for_spans(2)

    by_name = {s.name: s for s in spans}
    call, retry = by_name["llm.call"], by_name["llm.retry"]
    assert call.attributes == {
        "gen_ai.request.model": MODEL,
        "gen_ai.usage.input_tokens": 120,
        "latency_s": 0.25,
        "cached": True,
        "labels": ["a", "b"],
    }
    assert call.resource_attributes["service.name"] == "headway-test"
    assert call.scope_name == "headway.llm" and call.kind == "INTERNAL"
    assert retry.parent_span_id == call.span_id and retry.trace_id == call.trace_id
    assert (retry.status_code, retry.status_message) == ("ERROR", "rate limited")
    [first, *_] = receiver.exports
    assert first.path == "/api/public/otel/v1/traces" and first.content_type == "application/x-protobuf"
    decoded = base64.b64decode(first.headers["authorization"].removeprefix("Basic ")).decode()
    assert decoded == "pk-lf-test:sk-lf-test"


def test_otlp_batch_exporter_gzip_and_rejections() -> None:
    with OTLPReceiver(expected_authorization=basic_auth_header("pk", "sk")) as receiver:
        good = OTLPSpanExporter(
            endpoint=receiver.traces_endpoint,
            headers={"Authorization": basic_auth_header("pk", "sk")},
            compression=Compression.Gzip,
        )
        provider = make_provider(good, batch=True)
        tracer = provider.get_tracer("batch")
        for i in range(5):
            with tracer.start_as_current_span(f"span-{i}") as span:
                span.set_attribute("i", i)
        assert provider.force_flush(5000)
        spans = receiver.wait_for_spans(5)
        provider.shutdown()
        assert sorted(s.attributes["i"] for s in spans) == [0, 1, 2, 3, 4]
        assert {e.content_encoding for e in receiver.exports} == {"gzip"}

        wrong = OTLPSpanExporter(endpoint=receiver.traces_endpoint, headers={"Authorization": "Basic bm9wZQ=="})
        wrong_provider = TracerProvider()
        with wrong_provider.get_tracer("t").start_as_current_span("rejected") as rejected:
            pass
        assert wrong.export([rejected]) == SpanExportResult.FAILURE  # type: ignore[list-item]
        wrong_provider.shutdown()
        assert receiver.exports[-1].status == 401
        assert receiver.spans_named("rejected") == []


def test_otlp_json_bodies_are_decoded() -> None:
    payload = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "json-span",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "tokens", "value": {"intValue": "42"}},
                                    {
                                        "key": "meta",
                                        "value": {
                                            "kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}
                                        },
                                    },
                                ],
                                "status": {"code": 2, "message": "boom"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    with OTLPReceiver() as receiver:
        plain = httpx.post(receiver.traces_endpoint, json=payload)
        zipped = httpx.post(
            receiver.traces_endpoint,
            content=gzip.compress(json.dumps(payload).encode()),
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        bad = httpx.post(receiver.traces_endpoint, content=b"{not json", headers={"content-type": "application/json"})
        spans = receiver.spans
    assert plain.status_code == 200 and zipped.status_code == 200
    assert bad.status_code == 400 and "OTLP/JSON" in bad.json()["error"]
    assert len(spans) == 2
    span = spans[0]
    assert (span.name, span.trace_id, span.span_id, span.kind) == (
        "json-span",
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "CLIENT",
    )
    assert span.attributes == {"tokens": 42, "meta": {"k": False}}
    assert (span.status_code, span.status_message) == ("ERROR", "boom")
    assert span.resource_attributes == {"service.name": "json-svc"}


# -- batch APIs --------------------------------------------------------------------------------


def _label_params(text: str) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [{"role": "user", "content": text}],
        "tools": [LABEL_TOOL],
        "tool_choice": {"type": "tool", "name": "record_label"},
    }


def test_anthropic_message_batch_answers_each_request_as_live_after_a_poll(
    anthropic_server: FakeAnthropicServer,
) -> None:
    client = anthropic_client(anthropic_server)
    anthropic_server.add_fault(Fault.bad_request("prompt is too long"), user_text_contains="too long")
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "crash", "params": _label_params("The app crashes on login")},
            {"custom_id": "long", "params": _label_params("this one is too long")},
        ]
    )
    assert (batch.processing_status, batch.request_counts.processing, batch.results_url) == ("in_progress", 2, None)
    # The first status read (the SDK's, inside results()) still finds it processing: no results yet.
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        list(client.messages.batches.results(batch.id))
    early = httpx.get(
        f"{anthropic_server.url}/v1/messages/batches/{batch.id}/results",
        headers={"x-api-key": str(anthropic_server.api_key), "anthropic-version": "2023-06-01"},
    )
    assert early.status_code == 400 and early.json()["error"]["type"] == "invalid_request_error"
    ended = client.messages.batches.retrieve(batch.id)
    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (1, 1)
    assert ended.ended_at is not None and ended.results_url is not None
    results = {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}
    assert results["crash"].type == "succeeded"
    tool = results["crash"].message.content[0]
    assert isinstance(tool, ToolUseBlock) and tool.input["category"] == "bug_report"
    assert results["long"].type == "errored"
    assert results["long"].error.error.type == "invalid_request_error"
    assert anthropic_server.calls("/v1/messages") == 0 and anthropic_server.calls("batch:/v1/messages") == 2


def test_anthropic_message_batch_rejects_bad_custom_ids(anthropic_server: FakeAnthropicServer) -> None:
    client = anthropic_client(anthropic_server, max_retries=0)
    params = _label_params("hello")
    with pytest.raises(anthropic.BadRequestError, match="Duplicate custom_id"):
        client.messages.batches.create(requests=[{"custom_id": "a", "params": params}] * 2)
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        client.messages.batches.create(requests=[{"custom_id": "has space", "params": params}])
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_nope")


def test_openai_batch_reads_an_uploaded_jsonl_and_writes_output_and_error_files(
    openai_server: FakeOpenAIServer,
) -> None:
    client = openai_client(openai_server)
    openai_server.add_fault(Fault.server_error(500), user_text_contains="broken")
    body = {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "user", "content": "The app crashes on login"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Label", "schema": Label.model_json_schema()},
        },
    }
    lines = [
        {"custom_id": "ok", "method": "POST", "url": "/v1/chat/completions", "body": body},
        {
            "custom_id": "bad",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {**body, "messages": [{"role": "user", "content": "broken"}]},
        },
    ]
    uploaded = client.files.create(
        file=("in.jsonl", "\n".join(json.dumps(line) for line in lines).encode()), purpose="batch"
    )
    assert (uploaded.purpose, uploaded.status) == ("batch", "processed")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status in ("validating", "in_progress") and batch.output_file_id is None
    assert client.batches.retrieve(batch.id).status == "in_progress", "one status read before it ends"
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    assert done.output_file_id and done.error_file_id
    (good,) = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    assert good["custom_id"] == "ok" and good["response"]["status_code"] == 200
    assert json.loads(good["response"]["body"]["choices"][0]["message"]["content"])["category"] == "bug_report"
    (bad,) = [json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()]
    assert bad["custom_id"] == "bad" and bad["response"]["status_code"] == 500
    assert openai_server.calls("batch:/v1/chat/completions") == 2 and openai_server.calls("/v1/chat/completions") == 0


def test_openai_batch_over_a_bad_file_fails_and_expired_or_cancelled_ones_say_so(
    openai_server: FakeOpenAIServer,
) -> None:
    client = openai_client(openai_server, max_retries=0)
    wrong = client.files.create(
        file=(
            "in.jsonl",
            json.dumps({"custom_id": "x", "method": "POST", "url": "/v1/embeddings", "body": {}}).encode(),
        ),
        purpose="batch",
    )
    failed = client.batches.create(input_file_id=wrong.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert failed.status == "failed" and failed.errors is not None and failed.errors.data
    assert failed.errors.data[0].code == "mismatched_endpoint"
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")

    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}
    line = json.dumps({"custom_id": "only", "method": "POST", "url": "/v1/chat/completions", "body": body})
    good = client.files.create(file=("in.jsonl", line.encode()), purpose="batch")
    openai_server.expire_next_batches(1)
    expired = client.batches.create(input_file_id=good.id, endpoint="/v1/chat/completions", completion_window="24h")
    client.batches.retrieve(expired.id)
    expired = client.batches.retrieve(expired.id)
    assert expired.status == "expired" and expired.output_file_id is None and expired.error_file_id
    (row,) = [json.loads(text) for text in client.files.content(expired.error_file_id).text.splitlines()]
    assert row["error"]["code"] == "batch_expired" and row["response"] is None

    cancelled = client.batches.create(input_file_id=good.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert client.batches.cancel(cancelled.id).status == "cancelling"
    assert client.batches.retrieve(cancelled.id).status == "cancelled"
    assert openai_server.calls("batch:/v1/chat/completions") == 0, "neither processed a request"
