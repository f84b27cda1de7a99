"""The NATS connection, the JetStream topology, and publishing typed messages.

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
from functools import partial
from typing import Any

import msgspec
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from nats.js.kv import KeyValue

from schemas import subjects
from schemas.base import Message
from schemas.timers import PhaseDue
from services._runtime import natsurls, telemetry
from services._runtime.errors import Retryable

DAY = 24 * 3600.0
PUBLISH_TIMEOUT_S = 5.0
MSG_ID = "Nats-Msg-Id"
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
# Streams whose messages clients read with plain subscriptions (``nats sub
# nsed.results.<id>``). A plain subscriber of a stream's own subject would receive every
# publish: a repeat the duplicate window drops, and a publish the stream never stored
# because its leader died with it (on a cluster), which the retry then sends again. So
# these streams keep messages on subjects of their own and republish each one they store,
# once (``subjects.REPUBLISHED``): a subscriber hears only what is stored. A message is
# published only if the stream does not already hold it, so that a re-run past the
# duplicate window does not store, and deliver, it again.
CLIENT_FACING: frozenset[str] = frozenset({subjects.NSED_RESULTS})
# A cluster answers the JetStream API once its nodes have elected a meta leader (until then
# requests time out), places a stream of R replicas once R nodes have joined (until then:
# "no suitable peers for placement"), and tells of a stream another process has just
# created once the stream's own group has elected its leader (until then: not found).
_NOT_YET = (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError,
            ServiceUnavailableError, NotFoundError)  # fmt: skip
NO_PEERS_YET = 10005
# Buckets whose reads decide what a handler does. With more than one copy they are read
# from their stream's leader: a direct get may be answered by a follower that does not
# yet hold the write that caused the message in hand, and "the round has moved on", read
# from such a copy, would drop the message. With one copy, direct gets skip the API layer.
LEADER_READS: frozenset[str] = frozenset({subjects.DELIBERATIONS_BUCKET})
TOPOLOGY_RETRY_S = 0.25
READY_PROBE_S = 1.0


async def connect(
    url: str,
    name: str,
    *,
    timeout: float = 5.0,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    max_reconnect_attempts: int = -1,
) -> Client:
    """Connect with reconnects forever (services) or a bounded number (CLI); ``url`` may
    name several servers, separated by commas (the nodes of one cluster)."""

    async def _reconnected() -> None:
        if on_reconnect is not None:
            await on_reconnect()

    async def _error(_: Exception) -> None:
        return None  # connection errors surface through reconnects and timeouts

    return await nats.connect(
        natsurls.split(url),
        name=name,
        connect_timeout=timeout,
        allow_reconnect=True,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=0.5,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )


async def ensure_topology(js: JetStreamContext, replicas: int = 1, timeout: float = 30.0) -> None:
    """Create (or leave as they are) every stream and KV bucket NSED uses, each with
    ``replicas`` copies, once JetStream answers. Idempotent. A stream that has fewer
    replicas than asked is scaled up, never down (a process started without the setting
    leaves a cluster's streams as they are)."""
    deadline = time.monotonic() + timeout
    # A request sent before the meta leader is elected is dropped, not queued: ask often.
    await _until_ready(lambda: asyncio.wait_for(js.account_info(), READY_PROBE_S), deadline)
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
            num_replicas=replicas,
            republish=_republish(name),
        )
        await _until_ready(partial(_create_stream, js, config), deadline)
    await _until_ready(partial(_allow_schedules, js), deadline)
    buckets = [
        KeyValueConfig(
            bucket=subjects.AGENTS_BUCKET,
            history=1,
            storage=StorageType.FILE,
            limit_marker_ttl=AGENT_MARKER_TTL_S,
            direct=True,
            replicas=replicas,
        ),
        *(
            KeyValueConfig(
                bucket=bucket,
                history=1,
                ttl=7 * DAY,
                storage=StorageType.FILE,
                direct=_direct(bucket, replicas),
                replicas=replicas,
            )
            for bucket in (subjects.DELIBERATIONS_BUCKET, subjects.TELEMETRY_BUCKET)
        ),
    ]
    for bucket_config in buckets:
        await _until_ready(partial(_create_bucket, js, bucket_config), deadline)


async def _until_ready(attempt: Callable[[], Awaitable[Any]], deadline: float) -> None:
    """Run ``attempt`` until the cluster lets it through, at the latest by ``deadline``."""
    while True:
        try:
            await attempt()
            return
        except _NOT_YET:
            if time.monotonic() >= deadline:
                raise
        except BadRequestError as exc:
            if exc.err_code != NO_PEERS_YET or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(TOPOLOGY_RETRY_S)


async def _allow_schedules(js: JetStreamContext) -> None:
    """A timers stream made before timers were scheduled messages: allow schedules now."""
    timers = await js.stream_info(subjects.NSED_TIMERS)
    if not timers.config.allow_msg_schedules:
        timers.config.allow_msg_schedules = True
        await js.update_stream(timers.config)


def _republish(stream: str) -> RePublish | None:
    if stream not in subjects.REPUBLISHED:
        return None
    stored, delivered = subjects.REPUBLISHED[stream]
    return RePublish(src=stored, dest=delivered)


async def _create_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        # Another replica created it first, or it exists with an operator's changes: keep it.
        if exc.err_code not in (10058, 10065):
            raise
        await _scale_up(js, config.name or "", config.num_replicas or 1)
        if config.republish is not None:
            await _move_to_republish(js, config)


async def _move_to_republish(js: JetStreamContext, config: StreamConfig) -> None:
    """A results stream made when results were kept on the subject clients hear them on:
    keep them on their own subject from now on, republished (older results stay readable
    under their old subject)."""
    wanted = config.republish
    info = await js.stream_info(config.name or "")
    found = info.config.republish
    if wanted is None or (
        info.config.subjects == config.subjects
        and found is not None
        and (found.src, found.dest) == (wanted.src, wanted.dest)
    ):
        return
    info.config.subjects = config.subjects
    info.config.republish = wanted
    await js.update_stream(info.config)


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
    await _scale_up(js, f"KV_{config.bucket}", config.replicas)
    # A bucket made before direct gets were on, or before it had more than one copy.
    info = await js.stream_info(f"KV_{config.bucket}")
    direct = _direct(config.bucket, info.config.num_replicas or 1)
    if bool(info.config.allow_direct) != direct:
        info.config.allow_direct = direct
        await js.update_stream(info.config)


def _direct(bucket: str, replicas: int) -> bool:
    return replicas == 1 or bucket not in LEADER_READS


async def _scale_up(js: JetStreamContext, stream: str, replicas: int) -> None:
    """A stream made with fewer replicas (a single server's data, say) gets ``replicas``."""
    info = await js.stream_info(stream)
    if (info.config.num_replicas or 1) < replicas:
        info.config.num_replicas = replicas
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
        if stream in CLIENT_FACING and await self._holds(stream, subject, hdrs[MSG_ID]):
            return
        payload = msgspec.json.encode(message)
        if isinstance(message, PhaseDue):
            # A timer is a message the server delivers when it is due (a JetStream message
            # schedule): the owner hears of it once, at its time, whatever restarts between.
            hdrs[SCHEDULE] = "@at " + _rfc3339(message.due_at)
            hdrs[SCHEDULE_TARGET] = subject
            subject = subjects.timer_schedule(message)
        try:
            await self.js.publish(subject, payload, headers=hdrs)
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise Retryable(f"publish timed out: {type(exc).__name__}", delay=1.0) from exc

    async def _holds(self, stream: str, subject: str, msg_id: str) -> bool:
        """Whether the last message ``stream`` holds on ``subject`` has id ``msg_id``."""
        try:
            last = await self.js.get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise Retryable(f"lookup timed out: {type(exc).__name__}", delay=1.0) from exc
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
