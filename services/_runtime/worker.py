"""The one consumer loop every service uses: a route table in, acknowledgements out.

A ``Route`` (``route.py``) names a durable pull consumer, the message type(s) it decodes
and the handler that turns one decoded message into the messages to emit. The worker owns
everything a handler must not see: pulling, decoding at the edge (``Route.decode``), the
span and log context per message, publishing the outputs, and the acknowledgement:

    handler returned          -> check each output against the route's ``emits``,
                                 publish them, then ack
    Retryable / NotYetDue     -> nak with its delay
    undecodable or Rejected   -> dead letter with the reason (and msgspec path), then term
    anything else             -> log, nak with backoff; dead letter on the last delivery

Each route pulls from one durable consumer (``consumer.py``) through one subscription per
process (``pull.py``): pull requests for as many messages as it has free slots of
``concurrency``, each message handled in its own task as soon as it arrives, so a message
waits for no batch and replicas share work. An acknowledgement the connection cannot send
(NATS away) is dropped: the server redelivers the message after ``ack_wait``, and handlers
are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats.errors
import structlog
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.base import Message
from services._runtime import spans, tracing
from services._runtime.bus import Bus
from services._runtime.consumer import DurableConsumer
from services._runtime.errors import NotYetDue, Rejected, Retryable
from services._runtime.pinger import Pinger
from services._runtime.pull import Puller
from services._runtime.retry import TRANSIENT
from services._runtime.route import Delivery, Route, dead_letter


class Worker:
    """Runs one route until ``stop`` is set; then stops pulling and drains in-flight work."""

    def __init__(
        self,
        bus: Bus,
        route: Route,
        *,
        service: str,
        tracer: trace.Tracer,
        concurrency: int,
        ack_wait_s: float,
        max_deliver: int,
        clock: Callable[[], float] = time.time,
        on_outputs: Callable[[Sequence[Message]], None] | None = None,
        restore: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.bus = bus
        self.route = route
        self.service = service
        self.tracer = tracer
        self.concurrency = route.concurrency or concurrency
        self.ack_wait_s = ack_wait_s
        self.max_deliver = route.max_deliver or max_deliver
        self.clock = clock
        self.on_outputs = on_outputs  # metrics read the messages a handler emitted
        self.log = structlog.get_logger("worker").bind(route=route.name)
        self.consumer = DurableConsumer(
            bus.js, route, ack_wait_s=ack_wait_s, max_deliver=self.max_deliver, restore=restore
        )
        self.puller = Puller(bus.nc, self.consumer, self.concurrency, self.handle)
        self._busy = 0
        self.handled = 0

    @property
    def busy(self) -> int:
        return self._busy

    async def start(self) -> None:
        """Create (or update) the durable consumer and subscribe to the pulls' inbox."""
        await self.consumer.create()
        await self.puller.subscribe()

    async def run(self, stop: asyncio.Event) -> None:
        await self.puller.run(stop)

    async def unsubscribe(self) -> None:
        await self.puller.unsubscribe()

    async def handle(self, msg: Msg) -> None:
        self._busy += 1
        started = time.perf_counter()
        meta = msg.metadata
        headers = dict(msg.headers) if msg.headers else {}
        delivery = Delivery(
            subject=msg.subject,
            stream_seq=meta.sequence.stream,
            delivered=meta.num_delivered,
            payload=msg.data,
            traceparent=headers.get(tracing.TRACEPARENT),
        )
        structlog.contextvars.clear_contextvars()
        pinger = Pinger(msg, self.ack_wait_s / 3) if self.route.long_running else None
        try:
            await self._handle(msg, delivery, headers, started)
        finally:
            if pinger is not None:
                pinger.cancel()
            self._busy -= 1
            self.handled += 1

    async def _handle(
        self, msg: Msg, delivery: Delivery, headers: dict[str, str], started: float
    ) -> str:
        """Decode at the edge, then handle inside the message's span."""
        decoded, failure = self.route.decode(msg.data)
        chosen = tracing.parse_traceparent(headers.get(tracing.TRACEPARENT))
        if decoded is not None and self.route.trace_parent is not None:
            chosen = self.route.trace_parent(decoded, delivery) or chosen
        parent = tracing.as_context(chosen) if chosen is not None else None
        origin = tracing.parse_traceparent(headers.get(tracing.ORIGIN))
        with self.tracer.start_as_current_span(
            f"{self.service} {self.route.name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[trace.Link(origin)] if origin is not None else (),
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.route.name,
            },
        ) as span:
            _bind_ids(self.service, msg.subject, decoded, span)
            if failure is not None:
                span.set_status(Status(StatusCode.ERROR, failure.reason))
                await self._reject(msg, delivery, failure, True)
                outcome = "rejected"
            else:
                outcome = await self._dispatch(msg, decoded, delivery, span)
            # The one summary line per message, inside its span: it carries the trace ids.
            self.log.info(
                "handled",
                outcome=outcome,
                delivered=delivery.delivered,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            return outcome

    async def _dispatch(self, msg: Msg, decoded: Any, delivery: Delivery, span: trace.Span) -> str:
        try:
            outputs = await self.route.handle(decoded, delivery)
            spans.annotate(span, decoded, outputs)
            await self.bus.publish_all(outputs)
        except NotYetDue as exc:
            spans.annotate(span, decoded, ())
            await _settle(msg.nak(delay=exc.delay))
            return "not_due"
        except Retryable as exc:
            if 0 < self.max_deliver <= delivery.delivered:
                await self._reject(msg, delivery, Rejected(f"still failing: {exc}"))
                return "gave_up"
            self.log.info("retry", reason=str(exc), delay=exc.delay)
            await _settle(msg.nak(delay=exc.delay))
            return "retry"
        except Rejected as exc:
            span.set_status(Status(StatusCode.ERROR, exc.reason))
            await self._reject(msg, delivery, exc)
            return "rejected"
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            if 0 < self.max_deliver <= delivery.delivered:
                self.log.error("gave_up", exc_info=True)
                await self._reject(
                    msg,
                    delivery,
                    Rejected(f"gave up after {delivery.delivered} deliveries: {exc!r}"),
                )
                return "gave_up"
            self.log.error("handler_failed", exc_info=True)
            await _settle(msg.nak(delay=min(0.2 * 2 ** (delivery.delivered - 1), 10.0)))
            return "failed"
        await _settle(msg.ack())
        span.set_attribute("nsed.outputs", len(outputs))
        if self.on_outputs is not None:
            self.on_outputs(outputs)
        return "ok"

    async def _reject(
        self, msg: Msg, delivery: Delivery, error: Rejected, undecodable: bool = False
    ) -> None:
        letter = dead_letter(self.route.name, self.service, delivery, error, self.clock())
        try:
            extra = await self._on_reject(delivery, error) if undecodable else ()
            await self.bus.publish_all([letter, *extra])
        except Retryable as exc:
            await _settle(msg.nak(delay=exc.delay))  # the dead letter must not be lost either
            return
        self.log.warning("dead_lettered", error=error.reason, path=error.path)
        await _settle(msg.term())

    async def _on_reject(self, delivery: Delivery, error: Rejected) -> Sequence[Message]:
        """The route's extra messages for an undecodable message (a ``failed`` result for a
        task, say). Its failure must not lose the dead letter: it is logged and skipped,
        except a transient one, which retries the whole rejection."""
        try:
            return await self.route.rejected(delivery.payload, error)
        except Retryable:
            raise
        except Exception:
            self.log.error("reject_hook_failed", exc_info=True)
            return ()


async def _settle(acknowledgement: Awaitable[None]) -> None:
    """Send an ack, nak or term; one the connection cannot take now is left to ack_wait."""
    with contextlib.suppress(*TRANSIENT, nats.errors.ConnectionClosedError):
        await acknowledgement


def _bind_ids(service: str, subject: str, message: Any, span: trace.Span) -> None:
    """Bind the log context (one call) and tag the span with the message's ids."""
    ids: dict[str, Any] = {"service": service, "subject": subject}
    for name in ("task_id", "round", "agent_id"):
        value = getattr(message, name, None)
        if value is not None:
            ids[name] = value
            span.set_attribute(f"nsed.{name}", value)
    structlog.contextvars.bind_contextvars(**ids)
