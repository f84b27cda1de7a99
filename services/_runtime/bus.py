"""The NATS connection and publishing typed messages (the streams and buckets they go to
are made by ``topology``).

``Bus.publish`` derives a message's subject and ``Nats-Msg-Id`` from the message itself
(``schemas.subjects``), injects the trace context into the headers, and waits for the
stream's acknowledgement; JetStream drops a repeated id inside the duplicate window, which
is what makes every handler safe to re-run.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from schemas import subjects
from schemas.base import Message
from schemas.timers import PhaseDue
from services._runtime import natsurls, tracing
from services._runtime.arming import Arming
from services._runtime.credentials import Credentials
from services._runtime.errors import Retryable
from services._runtime.retry import TRANSIENT
from services._runtime.topology import ensure_topology as ensure_topology  # its old home

PUBLISH_TIMEOUT_S = 5.0
RECONNECT_WAIT_S = 0.5
MSG_ID = "Nats-Msg-Id"
PERMISSION_DENIED = "permissions violation"  # how the server refuses a subject
SCHEDULE = "Nats-Schedule"
SCHEDULE_TARGET = "Nats-Schedule-Target"

# Streams whose messages clients read with plain subscriptions (``nats sub
# nsed.results.<id>``). A plain subscriber of a stream's own subject would receive every
# publish: a repeat the duplicate window drops, and a publish the stream never stored
# because its leader died with it (on a cluster), which the retry then sends again. So
# these streams keep messages on subjects of their own and republish each one they store,
# once (``subjects.REPUBLISHED``): a subscriber hears only what is stored. A message is
# published only if the stream does not already hold it, so that a re-run past the
# duplicate window does not store, and deliver, it again.
CLIENT_FACING: frozenset[str] = frozenset({subjects.NSED_RESULTS})


async def connect(
    url: str,
    name: str,
    *,
    timeout: float = 5.0,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    max_reconnect_attempts: int = -1,
    credentials: Credentials | None = None,
) -> Client:
    """Connect with reconnects forever (services) or a bounded number (CLI); ``url`` may
    name several servers, separated by commas (the nodes of one cluster), as the principal
    ``credentials`` names (anonymous without them). Losing the
    server is one warning line, and getting it back one info line with the time it took;
    nats-py retries every ``RECONNECT_WAIT_S`` in between, silently."""
    log = structlog.get_logger("nats")
    clients: list[Client] = []
    lost_at: list[float] = []

    async def _disconnected() -> None:
        # Also called when the connection is closed on purpose: only a lost one is news.
        if clients and clients[0].is_reconnecting:
            lost_at[:] = [time.monotonic()]
            log.warning("nats_disconnected", reconnecting_every_s=RECONNECT_WAIT_S)

    async def _reconnected() -> None:
        down = time.monotonic() - lost_at.pop() if lost_at else 0.0
        log.info("nats_reconnected", down_s=round(down, 2))
        if on_reconnect is not None:
            await on_reconnect()

    async def _error(exc: Exception) -> None:
        # Connection errors surface through reconnects and timeouts; a request the server
        # refused surfaces only as a timeout, so its reason is told here.
        if PERMISSION_DENIED in str(exc).lower():
            log.warning("nats_permission_denied", error=str(exc))

    nc = await nats.connect(
        natsurls.split(url),
        name=name,
        connect_timeout=timeout,
        allow_reconnect=True,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=RECONNECT_WAIT_S,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
        **(credentials.options() if credentials is not None else {}),
    )
    clients.append(nc)
    return nc


def _rfc3339(epoch_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Bus:
    """Publishing for one service: typed messages in, JetStream acknowledgements out."""

    def __init__(self, nc: Client, service: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=PUBLISH_TIMEOUT_S)
        self.service = service
        self._kv: dict[str, KeyValue] = {}
        self._arming = Arming(self.js)

    async def kv(self, bucket: str) -> KeyValue:
        if bucket not in self._kv:
            self._kv[bucket] = await self.js.key_value(bucket)
        return self._kv[bucket]

    async def publish(
        self, message: Message, *, headers: dict[str, str] | None = None, msg_id: str = ""
    ) -> None:
        """Publish one message to its subject, deduplicated by its ``message_id``; its trace
        parent is its round's span (``tracing.headers_for``)."""
        hdrs = {
            **(headers or {}),
            **tracing.headers_for(
                getattr(message, "task_id", None), getattr(message, "round", None)
            ),
        }
        hdrs[MSG_ID] = msg_id or str(getattr(message, "message_id", ""))
        subject = subjects.subject_for(message)
        stream = subjects.stream_for(type(message))
        if stream in CLIENT_FACING and await self._holds(stream, subject, hdrs[MSG_ID]):
            return
        payload = msgspec.json.encode(message)
        if isinstance(message, PhaseDue):
            # A timer is a message the server delivers when it is due (a JetStream message
            # schedule): the owner hears of it once, at its time, whatever restarts between.
            hdrs[SCHEDULE] = "@at " + _rfc3339(message.due_at)
            hdrs[SCHEDULE_TARGET] = subject
            await self._arming.arm(message, payload, hdrs)
            return
        try:
            await self.js.publish(subject, payload, headers=hdrs)
        except TRANSIENT as exc:
            raise Retryable(f"publish not acknowledged: {type(exc).__name__}", delay=1.0) from exc

    async def _holds(self, stream: str, subject: str, msg_id: str) -> bool:
        """Whether the last message ``stream`` holds on ``subject`` has id ``msg_id``."""
        try:
            last = await self.js.get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
        except TRANSIENT as exc:
            raise Retryable(f"lookup not answered: {type(exc).__name__}", delay=1.0) from exc
        return bool((last.headers or {}).get(MSG_ID) == msg_id)

    async def publish_all(self, messages: Iterable[Message]) -> None:
        batch = list(messages)
        if len(batch) == 1:
            await self.publish(batch[0])
        elif batch:
            await asyncio.gather(*(self.publish(m) for m in batch))

    async def publish_raw(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None, **kw: Any
    ) -> None:
        await self.js.publish(subject, payload, headers=headers, **kw)
