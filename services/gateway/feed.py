"""The gateway's read side: what the API and the web view show, read from NATS only.

Consumes the KV buckets ``nsed_deliberations`` (watched: a small summary per task, kept in
memory) and ``nsed_agents`` (watched: the live pool, as the broker judges it), the stream
``NSED_EVENTS`` (``nsed.events.<task_id>.>``) and ``NSED_RESULTS``. Emits nothing.

The interface the web view (``web.py``) and the API use:

    feed.recent(limit)        newest first: ``Summary`` of running and ended deliberations
    await feed.record(id)     the whole ``DeliberationRecord`` (None: no such task)
    await feed.appeared(id, s)  whether the task has a record, or gets one within s seconds
    await feed.result(id)     the ``DeliberationConcluded`` on ``NSED_RESULTS`` (or None)
    feed.live_agents()        the live pool (``LiveAgent``: card, instances, capacity)
    async with feed.follow(id) as events:
        async for event in events: ...
                              every ``TaskEvent`` of the task from its first one on (a
                              replay, then live), ending after its ``DeliberationConcluded``

Every replica watches for itself, so any number of them can run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.record import DeliberationRecord
from services._runtime import tracing
from services._runtime.route import UNDECODABLE
from services.broker.registry import LiveAgent, Registry
from services.core.events import event_decoder

log = structlog.get_logger("gateway.feed")

_record_decoder = msgspec.json.Decoder(DeliberationRecord)
_result_decoder = msgspec.json.Decoder(DeliberationConcluded)
PROMPT_CHARS = 200
READ_TIMEOUT_S = 5.0
STALE_AFTER_S = 10.0  # an agent card not refreshed for this long is not live (as the broker)


# -- the deliberation index --------------------------------------------------------------
# A record decoded into these types only: msgspec skips the rest (the proposals' texts)
# without building it, so watching every write of every record stays cheap.
class _Policy(msgspec.Struct, frozen=True):
    protocol: str = "nsed"


class _Task(msgspec.Struct, frozen=True):
    prompt: str = ""
    policy: _Policy = _Policy()


class _Round(msgspec.Struct, frozen=True):
    number: int = 0
    phase: str = ""


class _Result(msgspec.Struct, frozen=True):
    status: str = ""
    stop_reason: str = ""
    rounds: int = 0
    cost_usd: float = 0.0
    extracted_answer: str | None = None


class _Head(msgspec.Struct, frozen=True):
    task_id: str
    created_at: float = 0.0
    task: _Task = _Task()
    current: _Round = _Round()
    result: _Result | None = None
    traceparent: str | None = None
    simulated: bool = False


_head_decoder = msgspec.json.Decoder(_Head)


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """One deliberation as a list shows it."""

    task_id: str
    created_at: float
    prompt: str  # its first PROMPT_CHARS characters
    protocol: str
    status: str  # "running", else the result's: completed | degraded | failed | cancelled
    stop_reason: str | None
    rounds: int  # the current round while running
    phase: str  # the current round's phase ("done" once ended)
    cost_usd: float | None  # known once ended
    answer: str | None  # the extracted answer, once ended
    trace_id: str | None
    simulated: bool


def summarize(head: _Head) -> Summary:
    result = head.result
    return Summary(
        task_id=head.task_id,
        created_at=head.created_at,
        prompt=head.task.prompt[:PROMPT_CHARS],
        protocol=head.task.policy.protocol,
        status="running" if result is None else result.status,
        stop_reason=None if result is None else result.stop_reason,
        rounds=head.current.number if result is None else result.rounds,
        phase=head.current.phase,
        cost_usd=None if result is None else result.cost_usd,
        answer=None if result is None else result.extracted_answer,
        trace_id=tracing.trace_id_of(head.traceparent),
        simulated=head.simulated,
    )


class Index:
    """Summaries of the records in ``nsed_deliberations``, kept by a watch (``Watched``)."""

    def __init__(self) -> None:
        self.rows: dict[str, Summary] = {}
        self.synced = asyncio.Event()
        self._awaited: dict[str, asyncio.Event] = {}

    def clear(self) -> None:
        self.rows.clear()

    def retain(self, keys: set[str]) -> None:
        """Forget every record whose key is not in ``keys`` (a new watch's snapshot)."""
        self.rows = {k: v for k, v in self.rows.items() if k in keys}

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        if operation in ("DEL", "PURGE") or not value:
            self.rows.pop(key, None)
            return
        try:
            self.rows[key] = summarize(_head_decoder.decode(value))
        except UNDECODABLE as exc:
            log.warning("bad_record", key=key, error=str(exc))
        if key in self._awaited:
            self._awaited[key].set()

    async def appeared(self, task_id: str, timeout: float) -> bool:
        """Whether the task has a record, or gets one within ``timeout`` seconds."""
        if task_id in self.rows:
            return True
        event = self._awaited.setdefault(task_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=timeout)
        except TimeoutError:
            return task_id in self.rows
        finally:
            self._awaited.pop(task_id, None)
        return True

    def recent(self, limit: int) -> list[Summary]:
        return sorted(self.rows.values(), key=lambda s: s.created_at, reverse=True)[:limit]


# -- the feed -----------------------------------------------------------------------------
class Feed:
    def __init__(self, nc: Client, *, records: KeyValue, agents: KeyValue) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=READ_TIMEOUT_S)
        self.records = records
        self.agents = agents
        self.index = Index()
        self.registry = Registry(stale_after_s=STALE_AFTER_S)

    def recent(self, limit: int = 100) -> list[Summary]:
        return self.index.recent(limit)

    def live_agents(self) -> list[LiveAgent]:
        return self.registry.live()

    async def appeared(self, task_id: str, timeout: float) -> bool:
        """Whether the task has a record now, or gets one within ``timeout`` seconds."""
        return await self.index.appeared(task_id, timeout)

    async def record(self, task_id: str) -> DeliberationRecord | None:
        try:
            entry = await self.records.get(task_id)
        except KeyNotFoundError:
            return None
        return _record_decoder.decode(entry.value) if entry.value else None

    async def result(self, task_id: str) -> DeliberationConcluded | None:
        # Stored under nsed.concluded.<id> (republished on nsed.results.<id>); a result
        # stored before results were republished is under the subject clients hear.
        for subject in (subjects.concluded(task_id), subjects.results(task_id)):
            try:
                msg = await self.js.get_last_msg(subjects.NSED_RESULTS, subject, direct=True)
            except NotFoundError:
                continue
            return _result_decoder.decode(msg.data) if msg.data else None
        return None

    @contextlib.asynccontextmanager
    async def follow(self, task_id: str) -> AsyncIterator[AsyncIterator[Any]]:
        """The task's events, subscribed on entry (enter before publishing the task and
        nothing is missed), unsubscribed on exit."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def on_msg(msg: Msg) -> None:
            try:
                queue.put_nowait(event_decoder.decode(msg.data))
            except UNDECODABLE as exc:
                log.warning("bad_event", subject=msg.subject, error=str(exc))

        events = await self.js.subscribe(
            subjects.task_events(task_id),
            stream=subjects.NSED_EVENTS,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=on_msg,
        )
        results = await self.js.subscribe(
            subjects.concluded(task_id),  # where the stream keeps it
            stream=subjects.NSED_RESULTS,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST,
            cb=on_msg,
        )

        async def iterate() -> AsyncIterator[Any]:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, DeliberationConcluded):
                    return

        try:
            yield iterate()
        finally:
            for sub in (events, results):
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
