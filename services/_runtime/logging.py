"""structlog, configured once per process: JSON off a terminal, console on one.

Every line carries the service name, the current ``trace_id``/``span_id`` and whatever
task, round and agent ids the worker bound for the message being handled. ``log_to_file``
also writes every line, as JSON, to a file of the process's own (a runner started by hand
keeps its log under ``$NSED_HOME/logs`` like the stack's processes).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any, TextIO, cast

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


class _Tee:
    """A processor that writes each line, as JSON, to a file when one is set. It is always
    in the chain (loggers cache their processors on first use), and costs one check when
    no file is set."""

    def __init__(self) -> None:
        self.file: IO[str] | None = None

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> Any:
        if self.file is not None:
            self.file.write(_dumps(event) + "\n")
            self.file.flush()  # a person follows it with tail -f
        return event


_tee = _Tee()


def log_to_file(path: Path | None) -> None:
    """Write every line to ``path`` too (appending), or stop writing (None)."""
    if _tee.file is not None:
        _tee.file.close()
        _tee.file = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _tee.file = path.open("a", encoding="utf-8")


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
            _tee,
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
