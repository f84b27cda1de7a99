"""A route: one durable consumer, the message types it decodes, the handler that turns one
message into the messages to emit, and the types it may emit.

Routes are what a service declares (``services/<name>/routes.py``); ``Worker`` runs them
over NATS, ``MemoryBus`` in memory. A handler returns one message, ``None`` or a sequence
of messages (``Outputs``); it is handed the ``Delivery`` only if it reads it
(``on_delivery``, else ``on_message``). ``emits`` (the handler's union, ``schemas.outputs``)
is checked on every output at run time, so a handler that returns a type the flow table
does not give its route fails loudly instead of publishing it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

import msgspec
from opentelemetry.trace import SpanContext

from schemas import subjects
from schemas.base import Message
from schemas.dlq import DeadLetter
from schemas.limits import EXCERPT_BYTES, ID_CHARS, REASON_CHARS
from schemas.timers import PhaseDue, TimerOwner
from services._runtime.errors import Rejected, UndeclaredOutput
from services.core.wording import clip, plain


@dataclass(frozen=True)
class Delivery:
    """What a handler may know about how its message arrived (no NATS types)."""

    subject: str
    stream_seq: int
    delivered: int
    payload: bytes
    traceparent: str | None = None  # the producer's trace header (a client's, for a task)


Outputs = Message | Sequence[Message] | None
Handler = Callable[[Any, Delivery], Awaitable[Outputs]]
RejectHook = Callable[[bytes, Rejected], Awaitable[Outputs]]
# What decoding bytes may raise besides a valid document: msgspec's error, and Python's own
# for a string whose bytes are not UTF-8 (msgspec reads strings with Python's codec).
UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError)


D = TypeVar("D")


def on_message(handle: Callable[[Any, D], Awaitable[Outputs]], deps: D) -> Handler:
    """The route's handler for ``handle(message, deps)``: most handlers need no more."""

    async def handler(message: Any, delivery: Delivery) -> Outputs:
        return await handle(message, deps)

    return functools.update_wrapper(handler, handle, assigned=(), updated=())  # __wrapped__


def on_delivery(handle: Callable[[Any, Delivery, D], Awaitable[Outputs]], deps: D) -> Handler:
    """The route's handler for ``handle(message, delivery, deps)``: for a handler that reads
    how its message arrived (its subject, stream position or raw payload)."""

    async def handler(message: Any, delivery: Delivery) -> Outputs:
        return await handle(message, delivery, deps)

    return functools.update_wrapper(handler, handle, assigned=(), updated=())  # __wrapped__


def as_messages(outputs: Outputs) -> tuple[Message, ...]:
    """A handler's outputs as the messages to publish, in order."""
    if outputs is None:
        return ()
    if isinstance(outputs, Message):
        return (outputs,)
    return tuple(outputs)


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

    async def handle(self, message: Any, delivery: Delivery) -> tuple[Message, ...]:
        """The handler's outputs for one decoded message, checked against ``emits``."""
        outputs = as_messages(await self.handler(message, delivery))
        self.check_outputs(outputs)
        return outputs

    async def rejected(self, payload: bytes, error: Rejected) -> tuple[Message, ...]:
        """The ``on_reject`` hook's messages for a payload that does not decode, checked."""
        if self.on_reject is None:
            return ()
        outputs = as_messages(await self.on_reject(payload, error))
        self.check_outputs(outputs)
        return outputs

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


def dead_letter(
    route: str, service: str, delivery: Delivery, error: Rejected, at: float
) -> DeadLetter:
    """A rejected delivery, with its reason and the start of its payload, kept under an id
    of its own per route and stream position."""
    return DeadLetter(
        message_id=f"dlq:{route}:{delivery.stream_seq}",
        service=service,
        subject=delivery.subject,
        # A reason may quote the bad value (an invalid enum value): keep its start.
        error=clip(error.reason, REASON_CHARS),
        path=None if error.path is None else clip(error.path, ID_CHARS),
        payload_excerpt=delivery.payload[:EXCERPT_BYTES].decode("utf-8", "replace"),
        stream_seq=delivery.stream_seq,
        delivered=delivery.delivered,
        at=at,
    )


def _path_of(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    marker = " - at `"
    return text.split(marker, 1)[1].rstrip("`") if marker in text else None


def timer_route(
    owner: TimerOwner,
    handle: Callable[[PhaseDue, D], Awaitable[Outputs]],
    deps: D,
    emits: tuple[type[Message], ...],
) -> Route:
    """The route of ``owner``'s phase timers (``schemas.timers``): its own subject of the
    timers stream, and no delivery limit, since a timer is naked until it is due."""
    return Route(
        name=f"{owner}-timers",
        consumes=(PhaseDue,),
        handler=on_message(handle, deps),
        emits=emits,
        filter_subject=subjects.filter_for(PhaseDue, owner=owner),
        max_deliver=-1,
    )
