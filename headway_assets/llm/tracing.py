"""OpenTelemetry tracing of every LLM call, exported to Langfuse (OTLP/HTTP) when configured.

Spans follow the OpenTelemetry GenAI conventions (`gen_ai.*`) and add the attributes Langfuse
reads for a generation (`langfuse.observation.*`). Exporters:
- Langfuse, when LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (or
  LANGFUSE_HOST) are set: `{base}/api/public/otel/v1/traces` with HTTP Basic auth;
- any OTLP/HTTP collector named by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT.
Keys go into the exporter's headers only: never into span attributes or logs.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

SERVICE_NAME = "headway"
TRACER_NAME = "headway.llm"
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"provider": None, "signature": None}


def langfuse_endpoint() -> tuple[str, dict[str, str]] | None:
    """Langfuse's OTLP endpoint and auth header from the environment, or None when not configured."""
    public_key = os.environ.get("LANGFUSE_PUBLIC_KEY")
    secret_key = os.environ.get("LANGFUSE_SECRET_KEY")
    base_url = os.environ.get("LANGFUSE_BASE_URL") or os.environ.get("LANGFUSE_HOST")
    if not (public_key and secret_key and base_url):
        return None
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    return f"{base_url.rstrip('/')}/api/public/otel/v1/traces", {"Authorization": f"Basic {token}"}


def _signature() -> tuple[str | None, ...]:
    names = (
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "LANGFUSE_BASE_URL",
        "LANGFUSE_HOST",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    )
    return tuple(os.environ.get(name) for name in names)


def build_tracer_provider(extra_processors: tuple[SpanProcessor, ...] = ()) -> TracerProvider:
    """A tracer provider with the exporters the environment asks for (plus `extra_processors`)."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    langfuse = langfuse_endpoint()
    if langfuse is not None:
        endpoint, headers = langfuse
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, headers=headers)))
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def get_tracer_provider() -> TracerProvider:
    """The process's tracer provider, rebuilt when the exporter environment changed."""
    with _LOCK:
        signature = _signature()
        provider: TracerProvider | None = _STATE["provider"]
        if provider is None or _STATE["signature"] != signature:
            if provider is not None:
                provider.shutdown()
            provider = build_tracer_provider()
            _STATE.update(provider=provider, signature=signature)
        return provider


def get_tracer() -> trace.Tracer:
    """The tracer LLM calls are recorded with."""
    return get_tracer_provider().get_tracer(TRACER_NAME)


def flush_traces(timeout_millis: int = 10_000) -> None:
    """Export buffered spans now (end of an asset run or an API request batch)."""
    provider: TracerProvider | None = _STATE["provider"]
    if provider is not None:
        provider.force_flush(timeout_millis)


@contextmanager
def llm_span(
    tracer: trace.Tracer, *, provider: str, model: str, task: str, prompt_version: str
) -> Iterator[trace.Span]:
    """A client span for one LLM call, named `chat <model>` as the GenAI conventions ask."""
    with tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
                "headway.task": task,
                "headway.prompt_version": prompt_version,
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": model,
            }
        )
        yield span
