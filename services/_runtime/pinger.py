"""Keeping a long handler's message: "still working on it" pings to the server.

A model call can outlast a consumer's ``ack_wait``; without a sign of life the server would
hand the message to another replica while the first is still calling the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from nats.aio.msg import Msg


class Pinger:
    """Tells the server every ``every`` seconds that a long call is still being worked on
    (a timer callback, not a task per message: most calls end before the first ping)."""

    def __init__(self, msg: Msg, every: float) -> None:
        self._msg = msg
        self._every = every
        self._sent: set[asyncio.Task[None]] = set()
        self._handle = asyncio.get_running_loop().call_later(every, self._ping)

    def _ping(self) -> None:
        task = asyncio.ensure_future(_quietly(self._msg.in_progress()))
        self._sent.add(task)
        task.add_done_callback(self._sent.discard)
        self._handle = asyncio.get_running_loop().call_later(self._every, self._ping)

    def cancel(self) -> None:
        self._handle.cancel()


async def _quietly(work: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await work
