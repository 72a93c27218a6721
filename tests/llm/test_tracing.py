"""LLM call tracing: through Langfuse's OpenTelemetry integration when its keys are set, through the
plain OTLP exporter otherwise, always against the local OTLP receiver (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headway_assets.core.settings import get_settings
from headway_assets.llm import tracing
from headway_assets.testing.fakes.otlp_receiver import (
    LANGFUSE_TRACES_PATH,
    TRACES_PATH,
    OTLPReceiver,
    ReceivedSpan,
    basic_auth_header,
)

TRACING_ENV = (
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_HOST",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
SECRET = "sk-lf-tracing-secret"


@pytest.fixture(autouse=True)
def clean_tracing_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tracing configuration leaks in from the machine, and none leaks out to later tests."""
    for name in TRACING_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    for name in TRACING_ENV:
        monkeypatch.delenv(name, raising=False)
    tracing.get_tracer_provider()  # rebuild without exporters (shuts the test's ones down)


def _one_llm_span(model: str = "claude-haiku-4-5") -> None:
    with tracing.llm_span(
        tracing.get_tracer(), provider="anthropic", model=model, task="tier1", prompt_version="tier1-v1"
    ) as span:
        span.set_attribute("gen_ai.usage.input_tokens", 12)
    tracing.flush_traces()


def _check_llm_span(span: ReceivedSpan, model: str = "claude-haiku-4-5") -> None:
    assert span.name == f"chat {model}"
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["gen_ai.request.model"] == model
    assert span.attributes["langfuse.observation.type"] == "generation"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.resource_attributes["service.name"] == "headway"
    assert SECRET not in repr(span.attributes) + repr(span.resource_attributes)


def test_langfuse_keys_send_spans_through_langfuse_to_its_otel_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with OTLPReceiver(expected_authorization=basic_auth_header("pk-lf-tracing", SECRET)) as receiver:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-tracing")
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
        monkeypatch.setenv("LANGFUSE_BASE_URL", receiver.langfuse_base_url)
        _one_llm_span()
        spans = receiver.wait_for_spans(1, timeout=10)
        exports = receiver.exports
    assert len(spans) == 1
    _check_llm_span(spans[0])
    assert {export.path for export in exports} == {LANGFUSE_TRACES_PATH}
    assert all(export.status == 200 for export in exports)
    # Langfuse's own exporter sent them, not a hand-made one.
    assert exports[0].headers.get("x-langfuse-public-key") == "pk-lf-tracing"


def test_langfuse_host_is_read_when_base_url_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with OTLPReceiver(expected_authorization=basic_auth_header("pk-lf-host", SECRET)) as receiver:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-host")
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
        monkeypatch.setenv("LANGFUSE_HOST", receiver.langfuse_base_url)
        _one_llm_span()
        spans = receiver.wait_for_spans(1, timeout=10)
    _check_llm_span(spans[0])


def test_a_changed_langfuse_url_under_the_same_key_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = basic_auth_header("pk-lf-same", SECRET)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-same")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    with OTLPReceiver(expected_authorization=auth) as first:
        monkeypatch.setenv("LANGFUSE_BASE_URL", first.langfuse_base_url)
        _one_llm_span("first-model")
        assert [span.name for span in first.wait_for_spans(1, timeout=10)] == ["chat first-model"]
    with OTLPReceiver(expected_authorization=auth) as second:
        monkeypatch.setenv("LANGFUSE_BASE_URL", second.langfuse_base_url)
        _one_llm_span("second-model")
        assert [span.name for span in second.wait_for_spans(1, timeout=10)] == ["chat second-model"]


def test_without_langfuse_keys_the_plain_otlp_exporter_sends_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    with OTLPReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        _one_llm_span()
        spans = receiver.wait_for_spans(1, timeout=10)
        exports = receiver.exports
    _check_llm_span(spans[0])
    assert {export.path for export in exports} == {TRACES_PATH}
    assert all("authorization" not in {key.lower() for key in export.headers} for export in exports)


def test_the_traces_endpoint_wins_over_the_base_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    with OTLPReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.traces_endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/unused")
        _one_llm_span()
        spans = receiver.wait_for_spans(1, timeout=10)
    _check_llm_span(spans[0])


def test_langfuse_keys_without_a_url_send_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Langfuse's SDK would default to its cloud: a machine without a configured URL must not call it."""
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-nourl")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    settings = get_settings().tracing
    assert not tracing.langfuse_configured(settings)
    assert tracing.otlp_traces_endpoint(settings) is None
    _one_llm_span()  # recorded, exported nowhere, no error
