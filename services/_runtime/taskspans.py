"""The spans that outlive one handler: a task's root span and its round spans.

Their ids are derived (``tracing.root_context``, ``tracing.round_context``), so every
service step could be parented on them long before they exist; the service that closes a
round (the gate) or ends the task (the gate, or the broker when no team can serve) emits
them with their real start and end times. The root span of a task that failed (no answer)
has status ERROR, with the result's detail. Without a tracer (handler tests) nothing is
recorded.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.record import DeliberationRecord
from services._runtime import tracing

STATUS_CHARS = 300


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


class TaskSpans:
    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        self.tracer = tracer or trace.NoOpTracer()

    def _root(self, record: DeliberationRecord) -> trace.SpanContext | None:
        return tracing.parse_traceparent(record.traceparent)

    def round(
        self,
        record: DeliberationRecord,
        number: int,
        start: float,
        end: float,
        attributes: dict[str, Any],
    ) -> None:
        root = self._root(record)
        if root is None:
            return
        own = tracing.round_context(
            root.trace_id, record.task_id, number, is_sampled=root.trace_flags.sampled
        )
        with tracing.fixed_ids(root.trace_id, own.span_id):
            span = self.tracer.start_span(
                f"round {number}",
                context=tracing.as_context(root),
                kind=SpanKind.INTERNAL,
                start_time=_ns(start),
                attributes={"nsed.task_id": record.task_id, "nsed.round": number, **attributes},
            )
        span.end(end_time=_ns(max(end, start)))

    def task(self, record: DeliberationRecord, end: float) -> None:
        root = self._root(record)
        if root is None:
            return
        client = tracing.parse_traceparent(record.client_traceparent)
        parent = tracing.as_context(client) if client is not None else None
        result = record.result
        attributes: dict[str, Any] = {"nsed.task_id": record.task_id}
        if result is not None:
            attributes.update(
                {
                    "nsed.status": result.status,
                    "nsed.stop_reason": result.stop_reason,
                    "nsed.rounds": result.rounds,
                    "nsed.cost_usd": result.cost_usd,
                    "nsed.winner_agent": result.winner_agent or "",
                }
            )
        with tracing.fixed_ids(root.trace_id, root.span_id):
            span = self.tracer.start_span(
                f"deliberation {record.task_id}",
                context=parent
                if parent is not None
                else trace.set_span_in_context(trace.INVALID_SPAN),
                kind=SpanKind.SERVER,
                start_time=_ns(record.created_at),
                attributes=attributes,
            )
        if result is not None and result.status == "failed":
            span.set_status(Status(StatusCode.ERROR, result.detail[:STATUS_CHARS]))
        span.end(end_time=_ns(max(end, record.created_at)))
