"""The JetStream topology NSED runs on: every stream and KV bucket, created (or left as
an operator changed them) by every process at start, on one server or a cluster.

Consumes a JetStream context, the number of copies to keep (``stream_replicas``) and a
deadline. Emits nothing but the streams and buckets: made once JetStream answers, each
with that many copies, older ones scaled up (never down) and moved to what this version
needs (direct gets, schedules, results republished). A principal that may not make them
(an agent, under ``nsed stack up``'s authorization) waits for them instead (``wait_for``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import nats
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

from schemas import subjects

DAY = 24 * 3600.0

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
# from such a copy, would drop the message (a reference answer read before the copy has
# it would simulate against no truth). With one copy, direct gets skip the API layer.
LEADER_READS: frozenset[str] = frozenset(
    {subjects.DELIBERATIONS_BUCKET, subjects.REFERENCES_BUCKET}
)
TOPOLOGY_RETRY_S = 0.25
READY_PROBE_S = 1.0


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
            for bucket in (
                subjects.DELIBERATIONS_BUCKET,
                subjects.REFERENCES_BUCKET,
                subjects.STATS_BUCKET,
            )
        ),
    ]
    for bucket_config in buckets:
        await _until_ready(partial(_create_bucket, js, bucket_config), deadline)


async def wait_for(js: JetStreamContext, streams: Sequence[str], timeout: float = 30.0) -> None:
    """Wait until every stream in ``streams`` exists (a principal that may not make streams
    waits for the services that may)."""
    deadline = time.monotonic() + timeout
    for name in streams:
        await _until_ready(partial(js.stream_info, name), deadline)


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
