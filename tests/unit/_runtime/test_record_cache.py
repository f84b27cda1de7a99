"""The record store's cache of the records it last wrote (services/_runtime/records.py)
holds tasks in flight only: a concluded record leaves it, and it never holds more than
``CACHE_SIZE``. Memory then follows the tasks in flight, not the tasks ever handled (a
burst of 2,000 tasks grew every service by ~30 KB a task)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from schemas.gate import DeliberationConcluded
from schemas.record import DeliberationRecord
from services._runtime import records
from services._runtime.records import KvRecordStore

from ..builders import record, task


@dataclass
class Entry:
    value: bytes
    revision: int


class FakeKv:
    """The three calls ``CasStore`` makes, with KV revisions."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.revision = 0

    async def get(self, key: str) -> Entry:
        if key not in self.entries:
            raise KeyNotFoundError
        return self.entries[key]

    async def create(self, key: str, value: bytes) -> int:
        if key in self.entries:
            raise KeyWrongLastSequenceError
        return self._put(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        if self.entries[key].revision != last:
            raise KeyWrongLastSequenceError
        return self._put(key, value)

    def _put(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.entries[key] = Entry(value, self.revision)
        return self.revision


def concluded(rec: DeliberationRecord) -> DeliberationRecord:
    result = DeliberationConcluded(
        task_id=rec.task_id, round=1, message_id=f"{rec.task_id}:result",
        status="completed", stop_reason="converged",
    )  # fmt: skip
    return msgspec.structs.replace(rec, result=result)


def touched(rec: DeliberationRecord) -> DeliberationRecord:
    return msgspec.structs.replace(rec, evidence=rec.evidence + 1.0)


# (task number, conclude it?) in the order the store sees the writes
writes = st.lists(st.tuples(st.integers(0, 11), st.booleans()), max_size=60)


@settings(max_examples=150, deadline=None)
@given(writes)
async def test_the_cache_holds_tasks_in_flight_only(sequence: list[tuple[int, bool]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(records, "CACHE_SIZE", 4)
        store = KvRecordStore(FakeKv())  # type: ignore[arg-type]
        for n in sorted({n for n, _ in sequence}):
            assert await store.create(record(the_task=task(task_id=f"t{n}")))
        for n, end in sequence:
            await store.update(f"t{n}", concluded if end else touched, fresh=True)
            cached = dict(store._seen)
            assert len(cached) <= 4
            assert [t for t, (rec, _) in cached.items() if rec.done] == []
        # What the store answers is the KV's, cache or not.
        for n, _ in sequence:
            stored = await store.get(f"t{n}")
            assert stored is not None
            assert stored.done == any(end for m, end in sequence if m == n)


class RacedKv(FakeKv):
    """Another writer moves ``key`` on before each of this store's first ``races`` writes."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    async def update(self, key: str, value: bytes, last: int) -> int:
        if self.races:
            self.races -= 1
            rec = msgspec.json.decode(self.entries[key].value, type=DeliberationRecord)
            self._put(key, msgspec.json.encode(touched(rec)))
        return await super().update(key, value, last)


@settings(max_examples=40, deadline=None)
@given(races=st.integers(0, 5), cached=st.booleans(), changes=st.integers(1, 4))
async def test_every_change_lands_once_on_the_value_that_won(
    races: int, cached: bool, changes: int
) -> None:
    """The one compare-and-set loop: a write another writer beat is re-applied to what that
    writer stored, so its change and each of ours count once, whatever the cache held."""
    kv = RacedKv(races)
    store = KvRecordStore(kv)  # type: ignore[arg-type]
    assert await store.create(record(the_task=task(task_id="t1")))
    if cached:  # a copy this process saw, then made stale by the other writer's first move
        await store.update("t1", lambda rec: None)
    for _ in range(changes):
        await store.update("t1", touched, fresh=cached)
    stored = await store.get("t1")
    assert stored is not None
    assert stored.evidence == record(the_task=task(task_id="t1")).evidence + races + changes
    assert store.conflicts == races
    assert store.writes == changes
