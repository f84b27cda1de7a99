"""Riding out a NATS outage: which errors are transient, how long to wait between tries,
and one log line per outage instead of one per try.

``Backoff`` is pure: try n (from 0) waits ``min(max_s, first_s * factor**n)``, a schedule
that never decreases and never passes ``max_s``. ``Outage`` follows one loop's failures in a
row (a heartbeat, a fetch loop, a watch): the first logs one warning, the rest nothing, and
the first success after them one info line with how long it lasted. ``retryable`` turns a
transient NATS error into ``Retryable``, so the message being handled is redelivered later
instead of failing with a traceback.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors

from services._runtime.errors import Retryable

# What a request meets while the server is away or starting: no answer in time, nobody
# (yet) serving the subject, JetStream still loading its streams, or a full buffer of
# commands waiting for the connection to come back.
TRANSIENT: tuple[type[BaseException], ...] = (
    TimeoutError,  # asyncio.TimeoutError is this class since 3.11; nats' subclasses it
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)


@dataclass(frozen=True)
class Backoff:
    """Exponential waits between tries, capped."""

    first_s: float = 0.1
    max_s: float = 5.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.max_s and self.factor >= 1):
            raise ValueError(f"backoff needs 0 < first_s <= max_s and factor >= 1: {self}")

    def delay(self, attempt: int) -> float:
        """The wait before try ``attempt + 1`` (``attempt`` failures so far, from 0)."""
        if attempt <= 0 or self.factor == 1:
            return self.first_s
        # Past this exponent the cap holds; stopping there keeps the power finite.
        cap = math.ceil(math.log(self.max_s / self.first_s, self.factor)) + 1
        return min(self.max_s, self.first_s * self.factor ** min(attempt, cap))


class Outage:
    """One loop's failures in a row: one warning when they start, one line when they end."""

    def __init__(
        self,
        log: Any,
        event: str,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        **context: Any,
    ) -> None:
        self.log = log
        self.event = event
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.context = context
        self.failures = 0
        self._since = 0.0

    def failed(self, exc: BaseException) -> float:
        """Count one failure; returns how long to wait before the next try."""
        if self.failures == 0:
            self._since = self.clock()
            self.log.warning(self.event, error=repr(exc), **self.context)
        delay = self.backoff.delay(self.failures)
        self.failures += 1
        return delay

    def ok(self) -> None:
        if self.failures:
            self.log.info(
                "recovered",
                after=self.event,
                failures=self.failures,
                failing_s=round(self.clock() - self._since, 2),
                **self.context,
            )
            self.failures = 0


@contextlib.contextmanager
def retryable(what: str, delay: float = 1.0) -> Iterator[None]:
    """Inside: a transient NATS error becomes ``Retryable`` (the message is redelivered
    after ``delay``), not an unexpected failure."""
    try:
        yield
    except TRANSIENT as exc:
        raise Retryable(f"{what}: {type(exc).__name__}", delay=delay) from exc
