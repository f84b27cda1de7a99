"""Spans as JSON lines, for machines with no collector (``nsed trace`` reads them).

One file per process under ``$NSED_HOME/traces/``; one JSON object per finished span:

    {"trace_id", "span_id", "parent_id", "name", "service", "kind", "start_ns", "end_ns",
     "status", "attributes": {...}, "links": [{"trace_id", "span_id"}]}
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class JsonlFile:
    """A file that threads append whole lines to (the exporters run on their own threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, lines: str) -> bool:
        """Append ``lines``; False if the file cannot be written."""
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(lines)
        except OSError:
            return False
        return True


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "service": str(span.resource.attributes.get("service.name", "")),
        "kind": span.kind.name.lower(),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_encoder = msgspec.json.Encoder(enc_hook=str)


class JsonlSpanExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.file = JsonlFile(path)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # msgspec, not json: every handled message ends a span or two, and the exporter's
        # thread holds the interpreter while it encodes them (about half the cost).
        lines = "".join(_encoder.encode(span_record(s)).decode() + "\n" for s in spans)
        if self.file.append(lines):
            return SpanExportResult.SUCCESS
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
