"""A tiny local OTLP/HTTP trace receiver (also standing in for Langfuse's OTLP endpoint).

    with OTLPReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.traces_endpoint, headers={...})
        ...
        spans = receiver.wait_for_spans(1)

It accepts `POST /v1/traces` and Langfuse's `POST /api/public/otel/v1/traces`, with
protobuf (`application/x-protobuf`) or JSON (`application/json`) bodies, optionally gzip or
deflate compressed, as the OpenTelemetry OTLP/HTTP exporter sends them. Spans are decoded
with the `opentelemetry.proto` classes and recorded with their attributes as plain dicts,
their status and their resource attributes, together with the request headers (so a test
can check Langfuse's `Authorization: Basic base64(public:secret)`).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from ._http import BackgroundHTTPServer, HttpReply, HttpRequest

TRACES_PATH = "/v1/traces"
LANGFUSE_TRACES_PATH = "/api/public/otel/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP/JSON writes these ids as hex; protobuf's JSON mapping expects base64 for bytes.
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def basic_auth_header(public_key: str, secret_key: str) -> str:
    """The `Authorization` value Langfuse expects: `Basic base64(public:secret)`."""
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
    return f"Basic {token}"


def any_value(value: AnyValue) -> Any:
    """An OTLP `AnyValue` as a plain Python value (lists and dicts for arrays and kvlists)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    return getattr(value, which)


def attributes_dict(attributes: Any) -> dict[str, Any]:
    """Repeated OTLP `KeyValue`s as a dict."""
    out: dict[str, Any] = {}
    for item in attributes:
        assert isinstance(item, KeyValue)
        out[item.key] = any_value(item.value)
    return out


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the receiver decoded it."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: Mapping[str, Any]
    status_code: str
    status_message: str
    resource_attributes: Mapping[str, Any]
    scope_name: str
    events: tuple[tuple[str, Mapping[str, Any]], ...]


@dataclass(frozen=True)
class ReceivedExport:
    """One export request: where it went, its headers (unredacted) and its spans."""

    path: str
    headers: Mapping[str, str]
    content_type: str
    content_encoding: str | None
    status: int
    spans: tuple[ReceivedSpan, ...]
    received_at: float
    error: str | None = None


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str) and value:
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError as err:
                raise ValueError(f"{key} {value!r} is not a hex id") from err
        out[key] = _hex_ids_to_base64(value)
    return out


def decode_export(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Decode an OTLP/HTTP trace export body (protobuf or JSON). Raises ValueError."""
    message = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as err:
            raise ValueError(f"not a valid ExportTraceServiceRequest protobuf: {err}") from err
        return message
    try:
        data = json.loads(body.decode("utf-8"))
        json_format.ParseDict(_hex_ids_to_base64(data), message, ignore_unknown_fields=True)
    except (UnicodeDecodeError, json.JSONDecodeError, json_format.ParseError, binascii.Error) as err:
        raise ValueError(f"not a valid OTLP/JSON trace export: {err}") from err
    return message


def spans_of(message: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Flatten an export into `ReceivedSpan`s."""
    spans: list[ReceivedSpan] = []
    for resource_spans in message.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        start_time_unix_nano=span.start_time_unix_nano,
                        end_time_unix_nano=span.end_time_unix_nano,
                        attributes=attributes_dict(span.attributes),
                        status_code=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                        status_message=span.status.message,
                        resource_attributes=resource,
                        scope_name=scope_spans.scope.name,
                        events=tuple((e.name, attributes_dict(e.attributes)) for e in span.events),
                    )
                )
    return spans


class OTLPReceiver(BackgroundHTTPServer):
    """An OTLP/HTTP trace receiver on 127.0.0.1 that records what it is sent.

    With `expected_authorization` set (e.g. `basic_auth_header("pk", "sk")`), exports that
    do not carry exactly that `Authorization` header get 401, as Langfuse answers them;
    they are still recorded (with `status` 401 and no spans).
    """

    def __init__(self, *, expected_authorization: str | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.expected_authorization = expected_authorization
        self._lock = threading.Condition()
        self._exports: list[ReceivedExport] = []
        self._failures: list[int] = []

    @property
    def traces_endpoint(self) -> str:
        """The full OTLP/HTTP traces URL, for `OTLPSpanExporter(endpoint=...)`."""
        return f"{self.url}{TRACES_PATH}"

    @property
    def langfuse_base_url(self) -> str:
        """What to set as `LANGFUSE_BASE_URL` (Langfuse appends its OTLP path)."""
        return self.url

    @property
    def langfuse_traces_endpoint(self) -> str:
        """`{LANGFUSE_BASE_URL}/api/public/otel/v1/traces`."""
        return f"{self.url}{LANGFUSE_TRACES_PATH}"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` exports with `status` (recorded, spans not kept)."""
        with self._lock:
            self._failures.extend([status] * count)

    @property
    def exports(self) -> list[ReceivedExport]:
        """Every export request received, in order."""
        with self._lock:
            return list(self._exports)

    @property
    def spans(self) -> list[ReceivedSpan]:
        """Spans of every accepted export, in order."""
        with self._lock:
            return [span for export in self._exports if export.status == 200 for span in export.spans]

    def spans_named(self, name: str) -> list[ReceivedSpan]:
        """Accepted spans called `name`."""
        return [span for span in self.spans if span.name == name]

    def wait_for_spans(self, count: int, timeout: float = 5.0) -> list[ReceivedSpan]:
        """Block until at least `count` spans arrived (a batch processor exports later).

        Raises TimeoutError naming how many arrived when they do not come in time.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                spans = [span for export in self._exports if export.status == 200 for span in export.spans]
                if len(spans) >= count:
                    return spans
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"OTLPReceiver got {len(spans)} span(s) in {timeout} s, expected at least {count}; "
                        f"exports so far: {[(e.path, e.status, e.error) for e in self._exports]}"
                    )
                self._lock.wait(left)

    def reset(self) -> None:
        """Forget every recorded export and pending failure."""
        with self._lock:
            self._exports.clear()
            self._failures.clear()

    def handle(self, request: HttpRequest) -> HttpReply:
        """Decode and record one export."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        status, spans, error = self._accept(request, content_type)
        export = ReceivedExport(
            path=request.path,
            headers=dict(request.headers),
            content_type=content_type,
            content_encoding=request.content_encoding,
            status=status,
            spans=tuple(spans),
            received_at=time.time(),
            error=error,
        )
        with self._lock:
            self._exports.append(export)
            self._lock.notify_all()
        if status != 200:
            return HttpReply(status, json.dumps({"error": error}).encode(), headers={"content-type": JSON})
        if content_type == PROTOBUF:
            return HttpReply(200, ExportTraceServiceResponse().SerializeToString(), headers={"content-type": PROTOBUF})
        return HttpReply(200, b"{}", headers={"content-type": JSON})

    def _accept(self, request: HttpRequest, content_type: str) -> tuple[int, list[ReceivedSpan], str | None]:
        if request.path not in (TRACES_PATH, LANGFUSE_TRACES_PATH):
            return 404, [], f"no OTLP route {request.path}; use {TRACES_PATH} or {LANGFUSE_TRACES_PATH}"
        if request.method != "POST":
            return 405, [], f"{request.method} not allowed; OTLP exports are POSTs"
        if (
            self.expected_authorization is not None
            and request.headers.get("authorization") != self.expected_authorization
        ):
            return 401, [], "missing or wrong Authorization header"
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure, [], f"injected failure {failure}"
        if content_type not in (PROTOBUF, JSON):
            return 415, [], f"unsupported content type {content_type!r}; send {PROTOBUF} or {JSON}"
        try:
            message = decode_export(request.body, content_type)
        except ValueError as err:
            return 400, [], str(err)
        return 200, spans_of(message), None
