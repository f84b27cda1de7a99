"""Stores over JetStream KV: read, create-once, and compare-and-set updates.

``CasStore.update`` applies a pure change function to the latest value and writes it only
if the KV revision is still the one it read; on a conflict it re-reads and re-applies. The
change function returns ``None`` when there is nothing to change, which makes every handler
that uses it idempotent under redelivery. ``RecordStore`` is the deliberation record's
store (KV ``nsed_deliberations``); the gate's telemetry uses the same machinery.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.record import DeliberationRecord
from schemas.telemetry import AgentTelemetry
from services._runtime.errors import Rejected, Retryable

T = TypeVar("T", bound=msgspec.Struct)
Change = Callable[[DeliberationRecord], DeliberationRecord | None]
MAX_CAS_ATTEMPTS = 64


class CasStore(Generic[T]):
    """One Struct type per KV bucket, JSON-encoded, updated by compare-and-set."""

    def __init__(self, kv: KeyValue, kind: type[T]) -> None:
        self._kv = kv
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(kind)

    async def read(self, key: str) -> tuple[T, int] | None:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        return self._decoder.decode(entry.value), entry.revision

    async def get(self, key: str) -> T | None:
        found = await self.read(key)
        return found[0] if found else None

    async def create(self, key: str, value: T) -> bool:
        try:
            await self._kv.create(key, self._encoder.encode(value))
        except KeyWrongLastSequenceError:
            return False
        return True

    async def upsert(self, key: str, change: Callable[[T | None], T | None]) -> T | None:
        """Like ``update``, but ``change`` also sees (and may create) a missing value."""
        for attempt in range(MAX_CAS_ATTEMPTS):
            found = await self.read(key)
            current, revision = found if found else (None, 0)
            changed = change(current)
            if changed is None:
                return current
            try:
                if revision:
                    await self._kv.update(key, self._encoder.encode(changed), last=revision)
                elif not await self.create(key, changed):
                    raise KeyWrongLastSequenceError
            except KeyWrongLastSequenceError:
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return changed
        raise Retryable(f"{key} stayed contended for {MAX_CAS_ATTEMPTS} attempts")

    async def update(self, key: str, change: Callable[[T], T | None]) -> tuple[T, bool]:
        for attempt in range(MAX_CAS_ATTEMPTS):
            found = await self.read(key)
            if found is None:
                raise Rejected(f"no deliberation record for task {key!r}")
            value, revision = found
            changed = change(value)
            if changed is None:
                return value, False
            try:
                await self._kv.update(key, self._encoder.encode(changed), last=revision)
            except KeyWrongLastSequenceError:
                # Another replica won this revision: back off a little and re-apply.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return changed, True
        raise Retryable(f"{key} stayed contended for {MAX_CAS_ATTEMPTS} attempts")


class RecordStore(Protocol):
    async def get(self, task_id: str) -> DeliberationRecord | None: ...

    async def create(self, record: DeliberationRecord) -> bool:
        """Store a new record; False if one already exists for the task."""
        ...

    async def update(self, task_id: str, change: Change) -> tuple[DeliberationRecord, bool]:
        """Apply ``change`` atomically; returns the resulting record and whether it changed.
        A missing record raises ``Rejected``: records exist before any event about them."""
        ...


class KvRecordStore:
    def __init__(self, kv: KeyValue) -> None:
        self._store = CasStore(kv, DeliberationRecord)

    async def get(self, task_id: str) -> DeliberationRecord | None:
        return await self._store.get(task_id)

    async def create(self, record: DeliberationRecord) -> bool:
        return await self._store.create(record.task_id, record)

    async def update(self, task_id: str, change: Change) -> tuple[DeliberationRecord, bool]:
        return await self._store.update(task_id, change)


class InMemoryRecordStore:
    """The same contract without NATS, for handler tests and offline studies."""

    def __init__(self) -> None:
        self.records: dict[str, DeliberationRecord] = {}
        self.writes = 0

    async def get(self, task_id: str) -> DeliberationRecord | None:
        return self.records.get(task_id)

    async def create(self, record: DeliberationRecord) -> bool:
        if record.task_id in self.records:
            return False
        self.records[record.task_id] = record
        self.writes += 1
        return True

    async def update(self, task_id: str, change: Change) -> tuple[DeliberationRecord, bool]:
        record = self.records.get(task_id)
        if record is None:
            raise Rejected(f"no deliberation record for task {task_id!r}")
        changed = change(record)
        if changed is None:
            return record, False
        self.records[task_id] = changed
        self.writes += 1
        return changed, True


class KvTelemetryStore:
    """Per-agent telemetry (``nsed_telemetry``), one key per ``<domain>.<agent_id>``."""

    def __init__(self, kv: KeyValue) -> None:
        self._store = CasStore(kv, AgentTelemetry)

    async def apply(
        self, domain: str, agent_id: str, update: Callable[[AgentTelemetry | None], AgentTelemetry]
    ) -> None:
        await self._store.upsert(f"{domain}.{agent_id}", update)

    async def get(self, domain: str, agent_id: str) -> AgentTelemetry | None:
        return await self._store.get(f"{domain}.{agent_id}")
