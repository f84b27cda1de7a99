"""Stores over JetStream KV: read, create-once, and compare-and-set updates.

A read or write that NATS does not answer (the server away or restarting) raises
``Retryable``: the message being handled is redelivered, not failed with a traceback.

``update`` applies a pure change function to the latest value and writes it only if the
KV revision is still the one it read; on a conflict it re-reads and re-applies. The change
function returns ``None`` when there is nothing to change, which makes every handler that
uses it idempotent under redelivery.

Read your writes. ``update(..., fresh=True)`` lets the first attempt start from the value
this process last wrote or read, skipping a read, when the caller expects that nobody else
wrote the record since (the reviewer while its ballots come in). Correctness never depends
on that copy: only a compare-and-set that succeeds proves it was current. A change that
writes nothing on the cached copy (or fails on it) proves nothing, since another replica
may have moved the record on, so it is applied again to the stored value.

Group commit. Fan-in handlers (five proposals of one round, say) change the same record at
the same moment; done one by one they mostly lose their compare-and-set to each other and
start over. ``KvRecordStore`` queues the changes that arrive for one record while a write
is under way and applies the queue in one read and one compare-and-set. Each caller still
gets the record exactly as it stood right after its own change (and whether that change
did anything), so handlers cannot tell the difference, only the round trips can.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import msgspec
import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.record import DeliberationRecord
from schemas.stats import AgentStats
from services._runtime.errors import Retryable, UnknownTask
from services._runtime.retry import retryable

T = TypeVar("T", bound=msgspec.Struct)
Change = Callable[[DeliberationRecord], DeliberationRecord | None]
MAX_CAS_ATTEMPTS = 64


class CasStore(Generic[T]):
    """One Struct type per KV bucket, JSON-encoded, updated by compare-and-set."""

    def __init__(self, kv: KeyValue, kind: type[T], *, discard_invalid: bool = False) -> None:
        self._kv = kv
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(kind)
        # An estimate that fails validation (out of range, or written by someone else) is
        # started over rather than left to fail every update forever.
        self._discard_invalid = discard_invalid
        self.conflicts = 0  # compare-and-sets another writer won

    async def _entry(self, key: str) -> tuple[T | None, int] | None:
        try:
            with retryable("record read"):
                entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        try:
            return self._decoder.decode(entry.value), entry.revision
        except msgspec.ValidationError:
            if not self._discard_invalid:
                raise
            structlog.get_logger("records").warning("invalid_value_discarded", key=key)
            return None, entry.revision

    async def get(self, key: str) -> T | None:
        found = await self._entry(key)
        return found[0] if found else None

    async def _create(self, key: str, value: T) -> int | None:
        """Create-once: the new revision, or None if ``key`` already has a value."""
        try:
            with retryable("record create"):
                return await self._kv.create(key, self._encoder.encode(value))
        except KeyWrongLastSequenceError:
            return None

    async def create(self, key: str, value: T) -> bool:
        return await self._create(key, value) is not None

    async def write(self, key: str, value: T, revision: int) -> int | None:
        """Compare-and-set: the new revision, or None if ``revision`` is no longer current."""
        try:
            with retryable("record write"):
                return await self._kv.update(key, self._encoder.encode(value), last=revision)
        except KeyWrongLastSequenceError:
            return None

    async def compare_and_set(
        self, key: str, change: Callable[[T | None], T | None], *, seen: tuple[T, int] | None = None
    ) -> tuple[T | None, int, bool]:
        """The store's one compare-and-set loop: read the value and its revision, apply
        ``change`` (which sees a missing value as None, and returns None to change
        nothing), write the result only if the revision is still the one read (create it
        where there was none), and on a lost race read again and re-apply. The first
        attempt may start from ``seen``, a copy this process holds: a change that writes
        nothing on it proves nothing, so it is judged again on the stored value, and a race
        it loses is retried at once (a stale copy is not contention). Returns the value as
        it stands, its revision, and whether this call wrote it."""
        for attempt in range(MAX_CAS_ATTEMPTS):
            cached = attempt == 0 and seen is not None
            current, revision = seen if cached and seen else (await self._entry(key) or (None, 0))
            changed = change(current)
            if changed is None:
                if cached:
                    continue
                return current, revision, False
            if revision:
                written = await self.write(key, changed, revision)
            else:
                written = await self._create(key, changed)
            if written is not None:
                return changed, written, True
            self.conflicts += 1
            if not cached:  # another replica won this revision: back off a little
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise Retryable(f"{key} stayed contended for {MAX_CAS_ATTEMPTS} attempts")

    async def upsert(self, key: str, change: Callable[[T | None], T | None]) -> T | None:
        """Apply ``change`` to the value (None if missing), which it may create."""
        value, _, _ = await self.compare_and_set(key, change)
        return value


class RecordStore(Protocol):
    async def get(self, task_id: str) -> DeliberationRecord | None: ...

    def holds(self, task_id: str) -> bool:
        """Whether this process holds a copy of the task's record (so the task exists, or
        did: a timer that is not due yet need not read it to know)."""
        ...

    async def create(self, record: DeliberationRecord) -> bool:
        """Store a new record; False if one already exists for the task."""
        ...

    async def update(
        self, task_id: str, change: Change, *, fresh: bool = False
    ) -> tuple[DeliberationRecord, bool]:
        """Apply ``change`` atomically; returns the resulting record and whether it changed.
        A missing record raises ``UnknownTask``: records exist before any event about them.
        ``fresh``: the last value this process saw is likely current; try it first."""
        ...


@dataclass
class _Pending:
    change: Change
    done: asyncio.Future[tuple[DeliberationRecord, bool]]
    fresh: bool = False


CACHE_SIZE = 256  # records of tasks in flight here; past it, a write reads first


class KvRecordStore:
    def __init__(self, kv: KeyValue) -> None:
        self._store = CasStore(kv, DeliberationRecord)
        self._queues: dict[str, list[_Pending]] = {}
        self._flushers: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, tuple[DeliberationRecord, int]] = OrderedDict()
        self.writes = 0

    @property
    def conflicts(self) -> int:
        return self._store.conflicts

    async def get(self, task_id: str) -> DeliberationRecord | None:
        return await self._store.get(task_id)

    def holds(self, task_id: str) -> bool:
        return task_id in self._seen

    async def create(self, record: DeliberationRecord) -> bool:
        return await self._store.create(record.task_id, record)

    async def update(
        self, task_id: str, change: Change, *, fresh: bool = False
    ) -> tuple[DeliberationRecord, bool]:
        done: asyncio.Future[tuple[DeliberationRecord, bool]] = (
            asyncio.get_running_loop().create_future()
        )
        queue = self._queues.get(task_id)
        if queue is not None:  # a write is under way: ride on the next one
            queue.append(_Pending(change, done, fresh))
        else:
            self._queues[task_id] = [_Pending(change, done, fresh)]
            flusher = asyncio.create_task(self._drain(task_id))
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        return await done

    def _remember(self, task_id: str, record: DeliberationRecord, revision: int) -> None:
        self._seen.pop(task_id, None)
        if not record.done:  # a concluded record is written no more: keep tasks in flight
            self._seen[task_id] = (record, revision)  # the most recent, last
            if len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)

    async def _drain(self, task_id: str) -> None:
        """Commit the record's queued changes, batch after batch, until none are left."""
        try:
            while self._queues[task_id]:
                batch, self._queues[task_id] = self._queues[task_id], []
                await self._commit(task_id, batch)
        finally:
            for left in self._queues.pop(task_id, []):
                if not left.done.done():
                    left.done.set_exception(Retryable(f"record {task_id} was not written"))

    async def _commit(self, task_id: str, batch: list[_Pending]) -> None:
        """Apply the batch's changes in order in one compare-and-set. Each caller gets the
        record as it stood right after its own change, or its own change's exception."""
        outcomes: list[tuple[DeliberationRecord, bool] | BaseException] = []

        def apply(record: DeliberationRecord | None) -> DeliberationRecord | None:
            if record is None:
                raise UnknownTask(task_id)
            outcomes.clear()
            for item in batch:
                try:
                    changed = item.change(record)
                except Exception as exc:  # that caller's failure alone
                    outcomes.append(exc)
                    continue
                if changed is not None:
                    record = changed
                outcomes.append((record, changed is not None))
            return record if any(isinstance(o, tuple) and o[1] for o in outcomes) else None

        cached = self._seen.get(task_id)
        try:
            seen = cached if cached is not None and all(i.fresh for i in batch) else None
            record, revision, wrote = await self._store.compare_and_set(task_id, apply, seen=seen)
            assert record is not None  # ``apply`` rejects a missing record
            self.writes += wrote
            self._remember(task_id, record, revision)
        except Exception as exc:
            self._seen.pop(task_id, None)
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                item.done.set_exception(outcome)
            else:
                item.done.set_result(outcome)


class KvStatsStore:
    """Per-agent stats (``nsed_telemetry``), one key per ``<domain>.<agent_id>``."""

    def __init__(self, kv: KeyValue) -> None:
        self._store = CasStore(kv, AgentStats, discard_invalid=True)

    async def apply(
        self, domain: str, agent_id: str, update: Callable[[AgentStats | None], AgentStats]
    ) -> None:
        await self._store.upsert(f"{domain}.{agent_id}", update)

    async def get(self, domain: str, agent_id: str) -> AgentStats | None:
        return await self._store.get(f"{domain}.{agent_id}")
