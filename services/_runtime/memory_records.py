"""The record store's contract (``records.RecordStore``) without NATS: the records in a
dict, for the handler tests, the in-memory services and offline studies."""

from __future__ import annotations

from schemas.record import DeliberationRecord
from services._runtime.errors import UnknownTask
from services._runtime.records import Change


class InMemoryRecordStore:
    """The same contract without NATS, for handler tests and offline studies."""

    def __init__(self) -> None:
        self.records: dict[str, DeliberationRecord] = {}
        self.writes = 0

    async def get(self, task_id: str) -> DeliberationRecord | None:
        return self.records.get(task_id)

    def holds(self, task_id: str) -> bool:
        return task_id in self.records

    async def create(self, record: DeliberationRecord) -> bool:
        if record.task_id in self.records:
            return False
        self.records[record.task_id] = record
        self.writes += 1
        return True

    async def update(
        self, task_id: str, change: Change, *, fresh: bool = False
    ) -> tuple[DeliberationRecord, bool]:
        record = self.records.get(task_id)
        if record is None:
            raise UnknownTask(task_id)
        changed = change(record)
        if changed is None:
            return record, False
        self.records[task_id] = changed
        self.writes += 1
        return changed, True
