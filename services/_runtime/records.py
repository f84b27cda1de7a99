"""The deliberation record store: read, create-once, and compare-and-set updates.

``update`` applies a pure change function to the latest record and writes it only if the
KV revision is still the one it read; on a conflict it re-reads and re-applies. The change
function returns ``None`` when there is nothing to change, which makes every handler that
uses it idempotent under redelivery.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Protocol

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.record import DeliberationRecord
from services._runtime.errors import Rejected, Retryable

Change = Callable[[DeliberationRecord], DeliberationRecord | None]
MAX_CAS_ATTEMPTS = 64

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DeliberationRecord)


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
        self._kv = kv

    async def _read(self, task_id: str) -> tuple[DeliberationRecord, int] | None:
        try:
            entry = await self._kv.get(task_id)
        except KeyNotFoundError:
            return None
        if entry.value is None or entry.revision is None:
            return None
        return _decoder.decode(entry.value), entry.revision

    async def get(self, task_id: str) -> DeliberationRecord | None:
        found = await self._read(task_id)
        return found[0] if found else None

    async def create(self, record: DeliberationRecord) -> bool:
        try:
            await self._kv.create(record.task_id, _encoder.encode(record))
        except KeyWrongLastSequenceError:
            return False
        return True

    async def update(self, task_id: str, change: Change) -> tuple[DeliberationRecord, bool]:
        for attempt in range(MAX_CAS_ATTEMPTS):
            found = await self._read(task_id)
            if found is None:
                raise Rejected(f"no deliberation record for task {task_id!r}")
            record, revision = found
            changed = change(record)
            if changed is None:
                return record, False
            try:
                await self._kv.update(task_id, _encoder.encode(changed), last=revision)
            except KeyWrongLastSequenceError:
                # Another replica won this revision: back off a little and re-apply.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return changed, True
        raise Retryable(f"record {task_id} stayed contended for {MAX_CAS_ATTEMPTS} attempts")


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
