"""A task's events from ``NSED_EVENTS``, in stream order, followed across NATS restarts
(``nsed watch``).

An ordered consumer is an ephemeral push consumer that the server keeps in memory; after
the server restarts it is gone, and nats-py does not notice. So after every reconnect the feed
subscribes again, starting at the stream position after the last event it handed out:
nothing is shown twice and nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from schemas import subjects
from services._runtime.retry import TRANSIENT


class EventFeed:
    def __init__(self, nc: Client, task_id: str, timeout: float) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.subject = subjects.task_events(task_id)
        self.last_seq = 0  # the stream position of the last event handed out
        self._sub: JetStreamContext.PushSubscription | None = None
        self._reconnects = 0

    async def open(self) -> None:
        self._reconnects = self.nc.stats["reconnects"]
        start = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if self.last_seq else DeliverPolicy.ALL,
            opt_start_seq=self.last_seq + 1 if self.last_seq else None,
        )
        self._sub = await self.js.subscribe(
            self.subject, stream=subjects.NSED_EVENTS, ordered_consumer=True, config=start
        )

    async def next(self, timeout: float) -> Msg | None:
        """The next event, or None if none came within ``timeout`` (or the subscription is
        being made again after a reconnect)."""
        stale = self._sub is None or self.nc.stats["reconnects"] != self._reconnects
        if stale and not await self._reopen():
            await asyncio.sleep(timeout)  # JetStream still starting: try again then
            return None
        assert self._sub is not None
        try:
            msg = await self._sub.next_msg(timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return None
        self.last_seq = msg.metadata.sequence.stream
        return msg

    async def _reopen(self) -> bool:
        await self.close()
        try:
            await self.open()
        except TRANSIENT:
            return False
        return True

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):  # the old consumer may be long gone
                await self._sub.unsubscribe()
            self._sub = None
