"""The NATS connection, the JetStream topology, and publishing typed messages.

``Bus.publish`` derives a message's subject and ``Nats-Msg-Id`` from the message itself
(``schemas.subjects``), injects the trace context into the headers, and waits for the
stream's acknowledgement; JetStream drops a repeated id inside the duplicate window, which
is what makes every handler safe to re-run.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue

from schemas import subjects
from schemas.base import Message
from schemas.timers import PhaseDue
from services._runtime import telemetry
from services._runtime.errors import Retryable
from services._runtime.once import CLAIM_LEASE_S, MSG_ID, PublishOnce
from services._runtime.retry import TRANSIENT

DAY = 24 * 3600.0
PUBLISH_TIMEOUT_S = 5.0
RECONNECT_WAIT_S = 0.5
SCHEDULE = "Nats-Schedule"
SCHEDULE_TARGET = "Nats-Schedule-Target"

# Streams: retention, age limit, duplicate window (seconds).
_STREAMS: dict[str, tuple[RetentionPolicy, float, float]] = {
    subjects.NSED_TASKS: (RetentionPolicy.WORK_QUEUE, 7 * DAY, 600.0),
    subjects.NSED_WORK: (RetentionPolicy.WORK_QUEUE, DAY, 600.0),
    subjects.NSED_EVENTS: (RetentionPolicy.LIMITS, DAY, 600.0),
    subjects.NSED_RESULTS: (RetentionPolicy.LIMITS, 7 * DAY, 3600.0),
    subjects.NSED_DLQ: (RetentionPolicy.LIMITS, 7 * DAY, 600.0),
    subjects.NSED_TIMERS: (RetentionPolicy.WORK_QUEUE, 7 * DAY, 600.0),
}
AGENT_MARKER_TTL_S = 1.0
# Streams whose subjects clients read with plain subscriptions (``nats sub
# nsed.results.<id>``). A plain subscriber receives every publish, including a repeat that
# the stream's duplicate window then drops, so a handler re-run after a redelivery would
# reach it twice. A message for these streams is published once (``once.py``).
CLIENT_FACING: frozenset[str] = frozenset({subjects.NSED_RESULTS})


async def connect(
    url: str,
    name: str,
    *,
    timeout: float = 5.0,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    max_reconnect_attempts: int = -1,
) -> Client:
    """Connect with reconnects forever (services) or a bounded number (CLI). Losing the
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

    async def _error(_: Exception) -> None:
        return None  # connection errors surface through reconnects and timeouts

    nc = await nats.connect(
        url,
        name=name,
        connect_timeout=timeout,
        allow_reconnect=True,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=RECONNECT_WAIT_S,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )
    clients.append(nc)
    return nc


async def ensure_topology(js: JetStreamContext) -> None:
    """Create (or leave as they are) every stream and KV bucket NSED uses. Idempotent."""
    for name, (retention, max_age, dup_window) in _STREAMS.items():
        config = StreamConfig(
            name=name,
            subjects=[subjects.STREAM_SUBJECTS[name]],
            retention=retention,
            storage=StorageType.FILE,
            max_age=max_age,
            duplicate_window=dup_window,
            discard=DiscardPolicy.OLD,
            allow_direct=True,
            allow_msg_schedules=True if name == subjects.NSED_TIMERS else None,
        )
        await _create_stream(js, config)
    # A timers stream made before timers were scheduled messages: allow schedules now.
    timers = await js.stream_info(subjects.NSED_TIMERS)
    if not timers.config.allow_msg_schedules:
        timers.config.allow_msg_schedules = True
        await js.update_stream(timers.config)
    await _create_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.AGENTS_BUCKET,
            history=1,
            storage=StorageType.FILE,
            limit_marker_ttl=AGENT_MARKER_TTL_S,
            direct=True,
        ),
    )
    for bucket in (subjects.DELIBERATIONS_BUCKET, subjects.TELEMETRY_BUCKET):
        await _create_bucket(
            js,
            KeyValueConfig(
                bucket=bucket, history=1, ttl=7 * DAY, storage=StorageType.FILE, direct=True
            ),
        )
    # Who publishes a client-facing message (once.py); a claim lapses with its age.
    await _create_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.CLAIMS_BUCKET,
            history=1,
            ttl=CLAIM_LEASE_S,
            storage=StorageType.FILE,
            direct=True,
        ),
    )


async def _create_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        # Another replica created it first, or it exists with an operator's changes: keep it.
        if exc.err_code not in (10058, 10065):
            raise


async def _create_bucket(js: JetStreamContext, config: KeyValueConfig) -> None:
    try:
        await js.key_value(config.bucket)
    except Exception:
        try:
            await js.create_key_value(config)
        except BadRequestError as exc:
            if exc.err_code not in (10058, 10065):
                raise
        return
    # A bucket made before direct gets were on: turn them on (reads skip the API layer).
    info = await js.stream_info(f"KV_{config.bucket}")
    if not info.config.allow_direct:
        info.config.allow_direct = True
        await js.update_stream(info.config)


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
        self.once = PublishOnce(self.js, self.kv)

    async def kv(self, bucket: str) -> KeyValue:
        if bucket not in self._kv:
            self._kv[bucket] = await self.js.key_value(bucket)
        return self._kv[bucket]

    async def publish(
        self, message: Message, *, headers: dict[str, str] | None = None, msg_id: str = ""
    ) -> None:
        """Publish one message to its subject, deduplicated by its ``message_id``; its trace
        parent is its round's span (``telemetry.headers_for``)."""
        hdrs = {
            **(headers or {}),
            **telemetry.headers_for(
                getattr(message, "task_id", None), getattr(message, "round", None)
            ),
        }
        hdrs[MSG_ID] = msg_id or str(getattr(message, "message_id", ""))
        subject = subjects.subject_for(message)
        stream = subjects.stream_for(type(message))
        if stream in CLIENT_FACING:
            send = functools.partial(self._send, message, subject, hdrs)
            await self.once.publish(stream, subject, hdrs[MSG_ID], send)
            return
        await self._send(message, subject, hdrs)

    async def _send(self, message: Message, subject: str, hdrs: dict[str, str]) -> None:
        payload = msgspec.json.encode(message)
        if isinstance(message, PhaseDue):
            # A timer is a message the server delivers when it is due (a JetStream message
            # schedule): the owner hears of it once, at its time, whatever restarts between.
            hdrs[SCHEDULE] = "@at " + _rfc3339(message.due_at)
            hdrs[SCHEDULE_TARGET] = subject
            subject = subjects.timer_schedule(message)
        try:
            await self.js.publish(subject, payload, headers=hdrs)
        except TRANSIENT as exc:
            raise Retryable(f"publish not acknowledged: {type(exc).__name__}", delay=1.0) from exc

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
