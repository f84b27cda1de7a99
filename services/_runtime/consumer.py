"""A route's durable pull consumer, kept alive across NATS restarts.

It is created at start, and created again, streams first, when the server answers a pull
with "no such consumer" (a server that came back without its store, or a stream someone
deleted). A failed pull waits on a bounded backoff (``retry.Backoff``) and is logged once
per outage (``retry.Outage``). A pull that merely expires is no failure: the stream is
idle, or the server is away, which the connection's own log lines report. The pull loop
that uses it is ``pull.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services._runtime.retry import TRANSIENT, Outage
from services._runtime.route import Route

# How the server answers a pull for a consumer it does not have: no responders (503) on
# the pull subject, or an API error saying so.
MISSING = (nats.js.errors.ServiceUnavailableError, nats.js.errors.NotFoundError)


class DurableConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        route: Route,
        *,
        ack_wait_s: float,
        max_deliver: int,
        restore: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.js = js
        self.route = route
        self.config = ConsumerConfig(
            durable_name=route.name,
            # Named, the consumer is created on a subject that carries its filter
            # ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), which the server checks
            # against the config: a principal allowed that subject cannot widen the filter.
            name=route.name,
            filter_subject=route.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait_s,
            max_deliver=max_deliver,
            max_ack_pending=-1,
        )
        self.restore = restore  # the service's streams and buckets, created again
        self.outage = Outage(structlog.get_logger("worker"), "fetch_failed", route=route.name)
        self.generation = 0  # outages handled so far; a pull made before one is stale
        self._lock = asyncio.Lock()

    async def create(self) -> None:
        """Create the consumer, or leave it as it is (the same config is a no-op)."""
        await self.js.add_consumer(self.route.stream, self.config)

    @property
    def next_subject(self) -> str:
        """Where a pull request for the consumer's next messages goes."""
        return f"{self.js._prefix}.CONSUMER.MSG.NEXT.{self.route.stream}.{self.route.name}"

    def fetched(self) -> None:
        self.outage.ok()

    async def failed(self, exc: Exception, generation: int, stop: asyncio.Event) -> None:
        """A pull made at ``generation`` failed with ``exc``: the first failure reported of
        an outage is handled (re-create what the server lost, then back off, or until
        ``stop``); a later one from a pull made before that is not."""
        async with self._lock:
            if generation != self.generation:
                return
            delay = self.outage.failed(exc)
            if isinstance(exc, MISSING):
                with contextlib.suppress(*TRANSIENT, nats.js.errors.Error):
                    # Still failing is the outage going on: the next pull reports it.
                    if self.restore is not None:
                        await self.restore()
                    await self.create()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            self.generation += 1
