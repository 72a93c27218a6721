"""OpenTelemetry tracing of every LLM call: to Langfuse through its OpenTelemetry integration, and
to any OTLP/HTTP collector.

Spans follow the OpenTelemetry GenAI conventions (`gen_ai.*`) and add the attributes Langfuse
reads for a generation (`langfuse.observation.*`). They are recorded on Headway's own tracer
provider (never the process-global one), whose exporters come from the tracing settings
(`core.settings.TracingSettings`):
- Langfuse, when its public and secret keys and its base URL are set: a `langfuse.Langfuse` client is bound to
  this tracer provider (`tracer_provider=`), so Langfuse's span processor exports the spans to
  `{LANGFUSE_BASE_URL or LANGFUSE_HOST}/api/public/otel/v1/traces` with its own auth, filtering
  and batching;
- the plain OTLP/HTTP exporter, when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
  OTEL_EXPORTER_OTLP_ENDPOINT names a collector (with or without Langfuse).
Keys go into the exporters' headers only: never into span attributes or logs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from headway_assets.core.settings import TracingSettings, get_settings

SERVICE_NAME = "headway"
TRACER_NAME = "headway.llm"


@dataclass
class _Tracing:
    """The tracer provider in use, the settings it was built from, and its Langfuse client."""

    signature: tuple[str | None, ...]
    provider: TracerProvider
    langfuse: Any = None  # langfuse.Langfuse, imported only when Langfuse is configured


_LOCK = threading.Lock()
_CURRENT: list[_Tracing] = []


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _signature(settings: TracingSettings) -> tuple[str | None, ...]:
    return (
        _secret(settings.langfuse_public_key),
        _secret(settings.langfuse_secret_key),
        settings.langfuse_base_url,
        settings.otlp_traces_endpoint,
        settings.otlp_endpoint,
    )


def langfuse_configured(settings: TracingSettings) -> bool:
    """Whether both Langfuse keys and its base URL are set. Without a base URL nothing is sent
    (Langfuse's SDK would fall back to its cloud, which a test or demo machine must never reach)."""
    return bool(
        _secret(settings.langfuse_public_key) and _secret(settings.langfuse_secret_key) and settings.langfuse_base_url
    )


def otlp_traces_endpoint(settings: TracingSettings) -> str | None:
    """The plain OTLP/HTTP traces URL the settings name, if any (the base endpoint gets `/v1/traces`,
    as the OpenTelemetry specification says)."""
    if settings.otlp_traces_endpoint:
        return settings.otlp_traces_endpoint
    if settings.otlp_endpoint:
        return f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
    return None


def _attach_langfuse(provider: TracerProvider, settings: TracingSettings) -> Any:
    """A Langfuse client whose span processor exports `provider`'s spans to Langfuse."""
    # Importing langfuse turns the process-wide httpx logger down to WARNING and gives it a console
    # handler of its own; undo that, so the vendor clients' request logs stay as configured.
    httpx_logger = logging.getLogger("httpx")
    level, handlers = httpx_logger.level, list(httpx_logger.handlers)
    from langfuse import Langfuse

    httpx_logger.setLevel(level)
    httpx_logger.handlers[:] = handlers

    return Langfuse(
        public_key=_secret(settings.langfuse_public_key),
        secret_key=_secret(settings.langfuse_secret_key),
        base_url=(settings.langfuse_base_url or "").rstrip("/"),
        tracer_provider=provider,
    )


def _release_langfuse() -> None:
    """Shut down the Langfuse client(s) of this process and forget them.

    Langfuse keeps one client per public key for the process's lifetime; a rebuild (new base URL
    or secret under the same key) must drop the old one, or the new tracer provider would get
    none. Headway creates no other Langfuse client, so resetting them all is ours to do."""
    from langfuse._client.resource_manager import LangfuseResourceManager

    LangfuseResourceManager.reset()


def _build(settings: TracingSettings) -> _Tracing:
    """A tracer provider exporting where `settings` ask, with its Langfuse client if any."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    langfuse = _attach_langfuse(provider, settings) if langfuse_configured(settings) else None
    endpoint = otlp_traces_endpoint(settings)
    if endpoint is not None:
        # Imported only to send traces: the exporter brings protobuf and requests, which every
        # process importing the engine (each `headway` command) otherwise loads for nothing.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return _Tracing(signature=_signature(settings), provider=provider, langfuse=langfuse)


def get_tracer_provider() -> TracerProvider:
    """The process's tracer provider, rebuilt when the tracing settings changed."""
    settings = get_settings().tracing
    signature = _signature(settings)
    with _LOCK:
        if _CURRENT and _CURRENT[0].signature == signature:
            return _CURRENT[0].provider
        if _CURRENT:
            old = _CURRENT.pop()
            old.provider.shutdown()  # exports what it still holds, to where it was meant to go
            if old.langfuse is not None:
                _release_langfuse()
        _CURRENT.append(_build(settings))
        return _CURRENT[0].provider


def traces_exported() -> bool:
    """Whether spans of LLM calls leave the process (Langfuse or an OTLP collector is configured):
    when they do not, the text they would carry (prompt, completion) need not be built."""
    settings = get_settings().tracing
    return langfuse_configured(settings) or otlp_traces_endpoint(settings) is not None


def get_tracer() -> trace.Tracer:
    """The tracer LLM calls are recorded with."""
    return get_tracer_provider().get_tracer(TRACER_NAME)


def flush_traces(timeout_millis: int = 10_000) -> None:
    """Export buffered spans now (end of an asset run or an API request batch)."""
    with _LOCK:
        current = _CURRENT[0] if _CURRENT else None
    if current is not None:
        current.provider.force_flush(timeout_millis)


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
