"""Tracing plumbing: one tracer provider per service, W3C trace context in NATS headers.

Spans are exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Trace context
always travels in headers, so one task has one trace id across every process.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"


def tracer_provider(service: str, instance: str = "") -> TracerProvider:
    resource = Resource.create(
        {"service.name": f"nsed-{service}", "service.instance.id": instance or str(os.getpid())}
    )
    provider = TracerProvider(resource=resource)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def inject(headers: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the current (or given) trace context into ``headers``; returns them."""
    _PROPAGATOR.inject(headers, context=context)
    return headers


def extract(headers: dict[str, str] | None) -> Context:
    return _PROPAGATOR.extract(headers or {})


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context:
    return extract({TRACEPARENT: traceparent} if traceparent else {})


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id inside a ``traceparent`` header value."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) >= 4 and len(parts[1]) == 32 else None


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
