"""structlog, configured once per process: JSON off a terminal, console on one.

Every line carries the service name, the current ``trace_id``/``span_id`` and whatever
task, round and agent ids the worker bound for the message being handled.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import msgspec
import structlog
from opentelemetry import trace


def _trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


_encoder = msgspec.json.Encoder(enc_hook=repr)


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured
    (a test harness or a daemon may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _dumps(event: Any, **_: Any) -> str:
    """JSON lines through msgspec: one per handled message, so it has to be cheap."""
    return _encoder.encode(event).decode()


def configure_logging(service: str, level: str = "info", *, json: bool | None = None) -> None:
    """Configure structlog for this process. ``json`` defaults to "stderr is not a tty"."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _trace_ids,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _Stderr())),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
