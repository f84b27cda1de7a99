"""Every event a task has in ``NSED_EVENTS`` now, read to the end and no further.

Consumes the stream ``NSED_EVENTS`` (``nsed.events.<task_id>.>``); emits the decoded
events in stream order. ``Feed.follow`` (services/gateway/feed.py) follows a task until its
result, but reads the result from another stream, which may arrive before the replay of
the events has caught up: a finished deliberation's page, and the live view's last
update, are built from this read instead, which ends exactly where the stream ends.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from schemas import subjects
from services.core.events import event_decoder

REPLAY_TIMEOUT_S = 10.0  # the whole read: a task has at most a few hundred events


class ReplayTimeout(Exception):
    """The stream did not hand over a task's stored events within the time allowed."""


async def stored_events(
    js: JetStreamContext, task_id: str, timeout: float = REPLAY_TIMEOUT_S
) -> list[Any]:
    deadline = time.monotonic() + timeout
    sub = await js.subscribe(
        subjects.task_events(task_id),
        stream=subjects.NSED_EVENTS,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
    )
    try:
        info = await sub.consumer_info()
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        if not info.num_pending and not delivered:
            return []  # nothing stored: no message will come to say so
        events: list[Any] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplayTimeout(f"events of {task_id} not read within {timeout:.0f}s")
            try:
                msg = await sub.next_msg(timeout=left)
            except nats.errors.TimeoutError as exc:
                raise ReplayTimeout(f"events of {task_id} not read within {timeout:.0f}s") from exc
            # A stranger's message on the task's subjects has nothing to show.
            with contextlib.suppress(msgspec.DecodeError):
                events.append(event_decoder.decode(msg.data))
            if msg.metadata.num_pending == 0:
                return events
    finally:
        await sub.unsubscribe()
