"""JetStream in memory, for the services' own routes: no NATS, no sleeping, no wall clock.

Consumes the routes each service declares (``services/<name>/routes.py``, the same tables
the worker runs over NATS) and the messages published to it; emits what those routes'
handlers return, published in turn. ``publish`` keeps each message (``published``, by
message id), drops one whose id it already holds (JetStream's duplicate window, here
without end) and queues one delivery per route whose subscription matches the message's
subject: the subject ``schemas.subjects`` gives it, a timer's being its owner's, where the
server delivers it when due. A timer is armed as ``Bus`` arms it: only in place of an
earlier round's of its task and phase (``schemas.timers.replaces``), which is then never
delivered again, as the server never fires a schedule replaced. ``run`` takes the
deliveries in order and settles each as the worker does (``worker.py``):

    handler returned          -> outputs checked against the route's ``emits``, published
    NotYetDue                 -> held until the clock reaches its time (``next_due``)
    Retryable                 -> delivered again, up to the route's ``max_deliver``
    undecodable or Rejected   -> a dead letter (and the route's ``on_reject`` messages)
    anything else             -> raised: in memory a failing handler is a bug to see

A handler gets the message decoded from its JSON, as over NATS. ``handle`` is the hand
driven form: one message to the routes its subject reaches, as given, exceptions raised.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import msgspec

from schemas import subjects
from schemas.base import Message
from schemas.timers import PhaseDue, replaces
from services._runtime.errors import NotYetDue, Rejected, Retryable
from services._runtime.route import Delivery, Route, dead_letter

M = TypeVar("M", bound=Message)


def matches(filter_subject: str, subject: str) -> bool:
    """Whether a NATS subscription takes a subject: ``*`` is one token, ``>`` the rest."""
    wanted, tokens = filter_subject.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or (token != "*" and token != tokens[i]):
            return False
    return len(tokens) == len(wanted)


@dataclass(frozen=True)
class Pending:
    """One delivery of a stored message to one route's consumer."""

    service: str
    route: Route
    delivery: Delivery


class MemoryBus:
    def __init__(
        self,
        routes: Mapping[str, Sequence[Route]],
        clock: Callable[[], float],
        *,
        after_each: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.routes = {service: tuple(table) for service, table in routes.items()}
        names = [route.name for table in self.routes.values() for route in table]
        if len(names) != len(set(names)):
            raise ValueError(f"two routes share a durable name: {sorted(names)}")
        self.clock = clock
        self.after_each = after_each  # the services' background work, between deliveries
        self.published: dict[str, Message] = {}
        self.ready: deque[Pending] = deque()
        self.held: list[tuple[float, int, Pending]] = []  # a heap, by due time
        self.deliveries = 0
        self._seq: dict[str, int] = {}
        self._timers: dict[str, PhaseDue] = {}  # by schedule subject: the one armed
        self._order = itertools.count()

    def subscribers(self, subject: str) -> list[tuple[str, Route]]:
        return [
            (service, route)
            for service, table in self.routes.items()
            for route in table
            if matches(route.subject, subject)
        ]

    def publish(self, messages: Iterable[Message]) -> None:
        for message in messages:
            key = self.key(message)
            if key in self.published:
                continue
            if isinstance(message, PhaseDue):
                schedule = subjects.timer_schedule(message)
                if not replaces(self._timers.get(schedule), message):
                    continue
                self._timers[schedule] = message
            stream = subjects.stream_for(type(message))
            seq = self._seq[stream] = self._seq.get(stream, 0) + 1
            self.published[key or f"{stream}:{seq}"] = message
            subject = subjects.subject_for(message)
            payload = msgspec.json.encode(message)
            for service, route in self.subscribers(subject):
                self.ready.append(Pending(service, route, Delivery(subject, seq, 1, payload)))

    @staticmethod
    def key(message: Message) -> str:
        """The message's ``Nats-Msg-Id`` (a task has none: it is never dropped)."""
        return str(getattr(message, "message_id", ""))

    def of_type(self, kind: type[M]) -> list[M]:
        """What the streams hold of one type, in publication order."""
        return [m for m in self.published.values() if isinstance(m, kind)]

    def next_due(self) -> float | None:
        """When the first held timer falls due (a caller may move its clock there)."""
        return self.held[0][0] if self.held else None

    async def call(self, route: Route, message: Any, delivery: Delivery) -> list[Message]:
        """One handler call: the outputs it returns, checked; its exceptions raised."""
        return list(await route.handle(message, delivery))

    async def handle(
        self,
        message: Message,
        *,
        subject: str | None = None,
        seq: int = 1,
        delivered: int = 1,
        payload: bytes | None = None,
    ) -> list[Message]:
        """``message`` delivered, as given, to every route its subject (by default its own)
        reaches; what they return (nothing is published), their exceptions raised."""
        subject = subject or subjects.subject_for(message)
        reached = self.subscribers(subject)
        if not reached:
            raise LookupError(f"no route subscribes to {subject}")
        body = msgspec.json.encode(message) if payload is None else payload
        delivery = Delivery(subject, seq, delivered, body)
        out: list[Message] = []
        for _, route in reached:
            out += await self.call(route, message, delivery)
        return out

    async def run(self, limit: int = 1_000_000) -> int:
        """Deliver until nothing is ready (held timers wait); the number of deliveries."""
        done = 0
        while await self.step():
            done += 1
            if done >= limit:
                raise RuntimeError(f"still delivering after {limit} deliveries")
        return done

    async def step(self) -> bool:
        now = self.clock()
        while self.held and self.held[0][0] <= now:
            self.ready.append(heapq.heappop(self.held)[2])
        while self.ready and self._replaced(self.ready[0]):
            self.ready.popleft()
        if not self.ready:
            return False
        await self._settle(self.ready.popleft())
        self.deliveries += 1
        if self.after_each is not None:
            await self.after_each()
        return True

    def _replaced(self, pending: Pending) -> bool:
        """A timer whose schedule a later round's has replaced since it was published."""
        if PhaseDue not in pending.route.consumes:
            return False
        timer, failure = pending.route.decode(pending.delivery.payload)
        if failure is not None or not isinstance(timer, PhaseDue):
            return False
        return self._timers.get(subjects.timer_schedule(timer), timer) != timer

    async def _settle(self, pending: Pending) -> None:
        route, delivery = pending.route, pending.delivery
        decoded, failure = route.decode(delivery.payload)
        if failure is not None:
            extra = await route.rejected(delivery.payload, failure)
            self.publish([self._letter(pending, failure), *extra])
            return
        try:
            outputs = await self.call(route, decoded, delivery)
        except NotYetDue as exc:
            again = self._again(pending)
            heapq.heappush(self.held, (self.clock() + exc.delay, next(self._order), again))
        except Retryable as exc:
            if 0 < (route.max_deliver or 0) <= delivery.delivered:
                self.publish([self._letter(pending, Rejected(f"still failing: {exc}"))])
            else:
                self.ready.append(self._again(pending))
        except Rejected as exc:
            self.publish([self._letter(pending, exc)])
        else:
            self.publish(outputs)

    @staticmethod
    def _again(pending: Pending) -> Pending:
        return replace(
            pending, delivery=replace(pending.delivery, delivered=pending.delivery.delivered + 1)
        )

    def _letter(self, pending: Pending, error: Rejected) -> Message:
        return dead_letter(
            pending.route.name, pending.service, pending.delivery, error, self.clock()
        )
