"""A route: one durable consumer, the message types it decodes, the handler that turns one
message into the messages to emit, and the types it may emit.

Routes are what a service declares (``services/<name>/routes.py``); ``Worker`` runs them.
``emits`` is checked on every output at run time, so a handler that returns a type the
flow table does not give its route fails loudly instead of publishing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import msgspec
from opentelemetry.trace import SpanContext

from schemas import subjects
from schemas.base import Message
from services._runtime.errors import Rejected, UndeclaredOutput
from services.core.wording import plain


@dataclass(frozen=True)
class Delivery:
    """What a handler may know about how its message arrived (no NATS types)."""

    subject: str
    stream_seq: int
    delivered: int
    payload: bytes
    traceparent: str | None = None  # the producer's trace header (a client's, for a task)


Handler = Callable[[Any, Delivery], Awaitable[Sequence[Message]]]
# What decoding bytes may raise besides a valid document: msgspec's error, and Python's own
# for a string whose bytes are not UTF-8 (msgspec reads strings with Python's codec).
UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError)
RejectHook = Callable[[bytes, Rejected], Awaitable[Sequence[Message]]]


@dataclass(frozen=True)
class Route:
    name: str  # the durable consumer name, shared by every replica
    consumes: tuple[type[Message], ...]
    handler: Handler
    emits: tuple[type[Message], ...] = ()
    filter_subject: str | None = None  # default: the first consumed type's subject, wildcarded
    concurrency: int | None = None
    max_deliver: int | None = None  # -1 for timers, which nak until due
    long_running: bool = False  # ping in-progress while the handler runs
    on_reject: RejectHook | None = None  # extra messages for a message that fails to decode
    # The span context to parent the handling span on (default: the trace header's).
    trace_parent: Callable[[Any, Delivery], SpanContext | None] | None = None
    decoder: msgspec.json.Decoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        target: Any = (
            self.consumes[0] if len(self.consumes) == 1 else Union[tuple(self.consumes)]  # noqa: UP007
        )
        object.__setattr__(self, "decoder", msgspec.json.Decoder(target))

    @property
    def stream(self) -> str:
        return subjects.stream_for(self.consumes[0])

    def decode(self, payload: bytes) -> tuple[Any, Rejected | None]:
        """The decoded message, or why it cannot be (with the msgspec path of a bad field)."""
        try:
            return self.decoder.decode(payload), None
        except msgspec.ValidationError as exc:
            return None, Rejected(plain(str(exc)), path=_path_of(exc))
        except msgspec.DecodeError as exc:
            return None, Rejected(f"undecodable: {exc}")
        except UnicodeDecodeError as exc:
            return None, Rejected(f"undecodable: a string is not UTF-8 ({exc.reason})")

    def check_outputs(self, outputs: Sequence[Message]) -> None:
        """Raise ``UndeclaredOutput`` unless every output's type is in ``emits``."""
        for output in outputs:
            if type(output) not in self.emits:
                raise UndeclaredOutput(
                    f"route {self.name} emitted {type(output).__name__}, which it does not "
                    f"declare (emits: {', '.join(t.__name__ for t in self.emits) or 'nothing'})"
                )

    @property
    def subject(self) -> str:
        return self.filter_subject or subjects.filter_for(self.consumes[0])


def _path_of(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    marker = " - at `"
    return text.split(marker, 1)[1].rstrip("`") if marker in text else None
