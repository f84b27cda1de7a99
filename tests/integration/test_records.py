"""The record store against a real KV bucket: what two replicas see of one record."""

from __future__ import annotations

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.record import DeliberationRecord, RoundState
from schemas.task import TaskSubmitted
from services._runtime.bus import ensure_topology
from services._runtime.records import KvRecordStore

replace = msgspec.structs.replace


def _record(task_id: str, round_number: int = 1) -> DeliberationRecord:
    return DeliberationRecord(
        task_id=task_id,
        task=TaskSubmitted(task_id=task_id, prompt="What is 6*7?"),
        created_at=0.0,
        deadline_at=600.0,
        phase_timeout_s=30.0,
        current=RoundState(number=round_number, phase="reviewing", phase_deadline=30.0, team=()),
    )


def _next_round(record: DeliberationRecord) -> DeliberationRecord:
    return replace(record, current=replace(record.current, number=record.current.number + 1))


def _tag_if_round(number: int):  # type: ignore[no-untyped-def]
    def change(record: DeliberationRecord) -> DeliberationRecord | None:
        if record.current.number != number:
            return None  # what every handler does with a message of another round
        return replace(record, evidence=record.evidence + 1.0)

    return change


async def _stores(nc: Client) -> tuple[KvRecordStore, KvRecordStore]:
    js = nc.jetstream()
    await ensure_topology(js)
    kv = await js.key_value(subjects.DELIBERATIONS_BUCKET)
    return KvRecordStore(kv), KvRecordStore(kv)


async def test_a_change_that_does_nothing_on_a_stale_cached_copy_is_applied_to_the_stored_one(
    nc: Client,
) -> None:
    # Replica A caches round 1; replica B moves the record to round 2; A is then given a
    # round-2 change "fresh". On its stale copy the change does nothing: that must not be
    # taken as the answer (the review it carries would be lost).
    a, b = await _stores(nc)
    await a.create(_record("stale-1"))
    await a.update("stale-1", _tag_if_round(1))
    await b.update("stale-1", _next_round)

    record, changed = await a.update("stale-1", _tag_if_round(2), fresh=True)

    assert changed
    assert record.current.number == 2
    stored = await b.get("stale-1")
    assert stored is not None
    assert stored.evidence == 2.0


async def test_a_change_that_fails_on_a_stale_cached_copy_is_judged_on_the_stored_one(
    nc: Client,
) -> None:
    a, b = await _stores(nc)
    await a.create(_record("stale-2"))
    await a.update("stale-2", _tag_if_round(1))
    await b.update("stale-2", _next_round)

    def only_round_two(record: DeliberationRecord) -> DeliberationRecord | None:
        if record.current.number != 2:
            raise ValueError("judged on a stale copy")
        return replace(record, evidence=9.0)

    record, changed = await a.update("stale-2", only_round_two, fresh=True)

    assert changed
    assert record.evidence == 9.0


async def test_a_fresh_change_on_a_current_cached_copy_still_writes_once(nc: Client) -> None:
    a, _ = await _stores(nc)
    await a.create(_record("current-1"))
    await a.update("current-1", _tag_if_round(1))
    writes = a.writes

    record, changed = await a.update("current-1", _tag_if_round(1), fresh=True)

    assert changed
    assert record.evidence == 2.0
    assert a.writes == writes + 1
    assert a.conflicts == 0
