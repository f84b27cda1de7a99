"""The voter's ballot box under any schedule (hypothesis): whatever the order, repetition
and redelivery of a round's reviews, and wherever its reviewing timer fires among them,
every seat ends with exactly one ballot, the record is tallied exactly once, and every
emission of the round's tally is the same message (the one the final record calls for).

Once in memory, one delivery at a time; once over compare-and-set stores (two voter
replicas over one KV, each with its own cache of the record and its own group commit),
deliveries running concurrently in batches."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any
from unittest.mock import patch

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.record import DeliberationRecord
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from services._runtime.errors import NotYetDue
from services._runtime.memory_records import InMemoryRecordStore
from services._runtime.records import Change, KvRecordStore
from services.inmemory import InMemoryServices
from services.voter import handlers as voter
from services.voter import tally
from services.voter.ballots import TIMED_OUT
from services.voter.handlers import VoterDeps
from services.voter.settings import VoterSettings
from services.voter.tally import published

from .._runtime.test_record_cache import FakeKv
from ..builders import arrived, proposal_for, review_for
from ..conftest import new_inmem
from ..opened_task import opened, submitted, timer

SEATS = 3
# One step: a review of a seat (``delivered`` its delivery count), or the reviewing timer.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("review"), st.integers(0, SEATS - 1), st.integers(1, 3)),
        st.tuples(st.just("timer"), st.just(0), st.integers(1, 3)),
    ),
    max_size=12,
)


class History(InMemoryRecordStore):
    """The in-memory store, keeping every record it wrote; a write that leaves the record
    as it was (work done again) fails the test."""

    def __init__(self, store: InMemoryRecordStore) -> None:
        super().__init__()
        self.records = store.records
        self.written: list[DeliberationRecord] = []

    async def update(
        self, task_id: str, change: Change, *, fresh: bool = False
    ) -> tuple[DeliberationRecord, bool]:
        before = self.records[task_id]
        record, changed = await super().update(task_id, change, fresh=fresh)
        if changed:
            assert record != before, "a write that changed nothing"
            self.written.append(record)
        return record, changed


async def reviewing(inmem: InMemoryServices, error_seat: int | None) -> list[ReviewSubmitted]:
    """Task h-1, every seat proposed: one review per seat (``error_seat``'s failed)."""
    out: list[Any] = []
    for request in await opened(inmem):
        out = list(await submitted(inmem, proposal_for(request, "42")))
    requests = [m for m in out if isinstance(m, ReviewRequested)]
    assert [r.seat for r in requests] == list(range(SEATS))
    reviews = [review_for(r, "42") for r in requests]
    if error_seat is not None:
        reviews[error_seat] = msgspec.structs.replace(
            reviews[error_seat], entries=(), status="error", error="HTTP 503"
        )
    return reviews


def check(record: DeliberationRecord, tallies: list[TallyComputed], tallied: int) -> None:
    """The invariants, on the final record, the tallies emitted and the writes into
    ``gating``."""
    cur = record.current
    assert sorted(b.seat for b in cur.ballots) == list(range(SEATS))  # one each
    assert cur.phase == "gating"
    assert tallied == 1
    assert tallies, "the round's tally was never emitted"
    assert all(t == tallies[0] for t in tallies)
    assert tallies[0] == published(record, 1)
    assert tallies[0].ballots == tuple(sorted(cur.ballots, key=lambda b: b.seat))  # seat order
    assert cur.tally == msgspec.structs.replace(tallies[0], ballots=())


@settings(max_examples=60, deadline=None)
@given(schedule=steps, close_at=st.integers(0, 12), error_seat=st.none() | st.integers(0, 2))
async def test_any_schedule_of_reviews_and_timer_tallies_once_in_memory(
    schedule: list[tuple[str, int, int]], close_at: int, error_seat: int | None
) -> None:
    inmem = new_inmem()
    reviews = await reviewing(inmem, error_seat)
    with patch.object(tally, "compute_tally", wraps=tally.compute_tally) as computed:
        record, tallies, first_seen = await run_schedule(inmem, reviews, schedule, close_at)
    assert computed.call_count == 1  # the record is tallied once, whatever the schedule
    check(record, tallies, tallied=computed.call_count)
    for ballot in record.current.ballots:  # a review in before the close is its ballot
        timed_out = TIMED_OUT in ballot.notes
        assert timed_out == (not first_seen[ballot.seat])
        assert ballot.valid == (not timed_out and ballot.seat != error_seat)


async def run_schedule(
    inmem: InMemoryServices,
    reviews: list[ReviewSubmitted],
    schedule: list[tuple[str, int, int]],
    close_at: int,
) -> tuple[DeliberationRecord, list[TallyComputed], dict[int, bool]]:
    """The schedule delivered one message at a time, then every review and the timer once
    more: the final record, the tallies emitted, and for each seat whether its review first
    came while the box was open."""
    store = History(inmem.store)
    deps = VoterDeps(store=store, clock=inmem.clock, settings=VoterSettings())
    deadline = inmem.store.records["h-1"].current.phase_deadline
    tallies: list[TallyComputed] = []
    first_seen: dict[int, bool] = {}  # seat -> its review came while the box was open
    # The schedule, then every review and the timer once more (all delivered at least once).
    tail = [("review", s, 2) for s in range(SEATS)] + [("timer", 0, 2)]
    for i, (kind, seat, delivered) in enumerate([*schedule, *tail]):
        if i == close_at or i >= len(schedule):
            inmem.clock.now = deadline + 1  # from here on, the deadline has passed
        if kind == "review":
            msg = reviews[seat]
            first_seen.setdefault(seat, store.records["h-1"].current.phase == "reviewing")
            out = await voter.on_review(msg, arrived(msg, delivered=delivered), deps)
        else:
            try:
                out = await voter.on_timer(timer("h-1", 1, "reviewing"), deps)
            except NotYetDue:
                assert inmem.clock.now < deadline + 1
                continue
        if out is not None:
            tallies.append(out)
    phases = ["reviewing", *(r.current.phase for r in store.written)]
    assert sum(a != "gating" == b for a, b in itertools.pairwise(phases)) == 1
    return store.records["h-1"], tallies, first_seen


class Counting(FakeKv):
    """The KV, counting the writes that take the round into ``gating``."""

    def __init__(self) -> None:
        super().__init__()
        self.tallied = 0
        self.phase = "reviewing"

    async def update(self, key: str, value: bytes, last: int) -> int:
        before = self.entries[key].value
        revision = await super().update(key, value, last)  # raises if ``last`` is stale
        assert value != before, "a write that changed nothing"
        phase = msgspec.json.decode(value, type=DeliberationRecord).current.phase
        self.tallied += self.phase != "gating" == phase
        self.phase = phase
        return revision


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(steps.filter(bool), min_size=1, max_size=4),
    close_at=st.integers(0, 4),
    error_seat=st.none() | st.integers(0, 2),
)
async def test_any_concurrent_schedule_over_two_replicas_tallies_once(
    batches: list[list[tuple[str, int, int]]], close_at: int, error_seat: int | None
) -> None:
    inmem = new_inmem()
    reviews = await reviewing(inmem, error_seat)
    kv = Counting()
    start = inmem.store.records["h-1"]
    await kv.create("h-1", msgspec.json.encode(start))
    replicas = [
        VoterDeps(store=KvRecordStore(kv), clock=inmem.clock, settings=VoterSettings())  # type: ignore[arg-type]
        for _ in range(2)
    ]
    deadline = start.current.phase_deadline
    tail = [("review", s, 2) for s in range(SEATS)] + [("timer", 0, 2)]
    tallies: list[TallyComputed] = []

    async def deliver(n: int, kind: str, seat: int, delivered: int) -> None:
        deps = replicas[(n + seat + delivered) % 2]
        if kind == "review":
            msg = reviews[seat]
            out = await voter.on_review(msg, arrived(msg, delivered=delivered), deps)
        else:
            try:
                out = await voter.on_timer(timer("h-1", 1, "reviewing"), deps)
            except NotYetDue:
                return
        if out is not None:
            tallies.append(out)

    for b, batch in enumerate([*batches, tail]):
        if b == close_at or b == len(batches):
            inmem.clock.now = deadline + 1
        await asyncio.gather(*(deliver(n, *step) for n, step in enumerate(batch)))
    record = msgspec.json.decode(kv.entries["h-1"].value, type=DeliberationRecord)
    check(record, tallies, kv.tallied)
