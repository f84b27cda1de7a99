"""Tracing and metrics plumbing: one provider per service, one trace per task.

The span model (README, "Traces and logs"). Each task has a root span and each round a span
under it. Every service step is a span under its round: team selection, each agent's
propose and review call, ballot validation, the tally, the gate. The root and round spans cover work
done by several processes over time, so their ids are *derived*:

    root   trace id  = the client's (if the task carried a ``traceparent``), else
                       H128(task id)
           span id   = H64("root", task id)
    round  span id   = H64("round", task id, r)        (round 0 is the root)

Any process can therefore parent a span on "round r of task t" before that round's span
exists. The bus writes the round's context into the ``traceparent`` header of every
message of round r (and the producer's own span into ``nsed-origin``, which the consumer
links to). The gate emits each round's span when it closes the round, and the root when
the deliberation concludes, with those ids, through ``FixedIds``.

Export: OTLP over HTTP/protobuf when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces
variant) is set; otherwise JSON lines under ``$NSED_HOME/traces/``, which ``nsed trace``
reads; nothing with ``OTEL_TRACES_EXPORTER=none``. Spans are flushed when the provider
shuts down (the service's last exit step).

Sampling: the standard ``OTEL_TRACES_SAMPLER`` (and ``_ARG``). A task's root and round
contexts carry the decision the named sampler makes for a root with the task's trace id
(``sampled``), or its client's; a parent-based sampler follows them in every service, so
a trace is whole or absent.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services._runtime.spanfile import JsonlSpanExporter

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACEPARENT = "traceparent"
ORIGIN = "nsed-origin"  # the producer's own span, for links on the consumer's side
_FIXED: contextvars.ContextVar[tuple[int | None, int | None]] = contextvars.ContextVar(
    "nsed_fixed_ids", default=(None, None)
)


class FixedIds(IdGenerator):
    """Random ids, except inside ``fixed_ids(...)``, where the given ones are used."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return _FIXED.get()[1] or self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return _FIXED.get()[0] or self._random.generate_trace_id()


@contextlib.contextmanager
def fixed_ids(trace_id: int | None, span_id: int | None) -> Iterator[None]:
    token = _FIXED.set((trace_id, span_id))
    try:
        yield
    finally:
        _FIXED.reset(token)


def exporting_to_collector() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def tracer_provider(service: str, instance: str = "", home: str | None = None) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": f"nsed-{service}",
            "service.namespace": "nsed",
            "service.instance.id": instance or str(os.getpid()),
        }
    )
    provider = TracerProvider(resource=resource, id_generator=FixedIds())
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return provider  # spans still give ids to logs and headers; none are exported
    if exporting_to_collector():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif home is not None:
        path = Path(home) / "traces" / f"{service}-{instance or os.getpid()}.jsonl"
        provider.add_span_processor(BatchSpanProcessor(JsonlSpanExporter(path)))
    return provider


# -- derived ids -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _hash(size: int, *parts: object) -> int:
    # Cached: every message a round publishes derives the same ids again.
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).digest()
    return int.from_bytes(digest, "big") or 1


def sampled(trace_id: int) -> bool:
    """Whether a task's trace is recorded, as the sampler the standard variables name
    (``OTEL_TRACES_SAMPLER``, ``OTEL_TRACES_SAMPLER_ARG``) decides for a trace of its own:
    by the trace id, so that every service decides the same for every span of a task and
    a trace is whole or absent. Every trace, unless a ratio or ``always_off`` is named."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if name in ("always_off", "parentbased_always_off"):
        return False
    if name not in ("traceidratio", "parentbased_traceidratio"):
        return True
    try:
        rate = float(os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
    except ValueError:
        rate = 1.0  # the SDK's own fallback for an unreadable ratio
    if not 0.0 <= rate <= 1.0:
        rate = 1.0
    return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < TraceIdRatioBased.get_bound_for_rate(rate)


def _flags(is_sampled: bool) -> TraceFlags:
    return TraceFlags(TraceFlags.SAMPLED if is_sampled else TraceFlags.DEFAULT)


def root_context(task_id: str, client: SpanContext | None = None) -> SpanContext:
    """A task's root: in the client's trace, and sampled as the client sampled it, when the
    task came with one; else a trace of its own, sampled by ``sampled``."""
    if client is not None and client.is_valid:
        trace_id, flags = client.trace_id, client.trace_flags
    else:
        trace_id = _hash(16, task_id)
        flags = _flags(sampled(trace_id))
    return SpanContext(
        trace_id=trace_id, span_id=_hash(8, "root", task_id), is_remote=True, trace_flags=flags
    )


def round_context(
    trace_id: int, task_id: str, round_number: int, *, is_sampled: bool = True
) -> SpanContext:
    """Round ``round_number``'s span (0: the root), sampled as its task's root is."""
    span_id = (
        _hash(8, "root", task_id) if round_number <= 0 else _hash(8, "round", task_id, round_number)
    )
    return SpanContext(
        trace_id=trace_id, span_id=span_id, is_remote=True, trace_flags=_flags(is_sampled)
    )


def as_context(span_context: SpanContext) -> Context:
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def format_traceparent(span_context: SpanContext) -> str:
    flags = int(span_context.trace_flags)
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{flags:02x}"


def parse_traceparent(value: str | None) -> SpanContext | None:
    """A valid (remote) span context from a W3C ``traceparent`` value, or None.

    Parsed directly: every message carries two of these, and going through the generic
    propagator (carrier, getter, context objects) costs more than the rest of the header
    handling together. Only the 55-character form (version 00) is read: it is all NATS
    clients and this project write."""
    match = _TRACEPARENT.fullmatch(value) if value else None
    if match is None:
        return None
    version, trace_id, span_id, flags = (int(part, 16) for part in match.groups())
    if version == 0xFF or trace_id == 0 or span_id == 0:
        return None
    return SpanContext(
        trace_id=trace_id, span_id=span_id, is_remote=True, trace_flags=TraceFlags(flags)
    )


# -- headers -------------------------------------------------------------------------------


def inject(headers: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the current (or given) trace context into ``headers``; returns them."""
    _PROPAGATOR.inject(headers, context=context)
    return headers


def extract(headers: dict[str, str] | None) -> Context:
    return _PROPAGATOR.extract(headers or {})


def headers_for(task_id: str | None, round_number: int | None) -> dict[str, str]:
    """Headers for a message published from the current span: the message's round as its
    parent (the current trace), and the current span as its origin."""
    current = trace.get_current_span().get_span_context()
    if not current.is_valid:
        return {}
    headers = {ORIGIN: format_traceparent(current)}
    if task_id is not None and round_number is not None:
        headers[TRACEPARENT] = format_traceparent(
            round_context(
                current.trace_id, task_id, round_number, is_sampled=current.trace_flags.sampled
            )
        )
    else:
        headers[TRACEPARENT] = format_traceparent(current)
    return headers


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
