"""The voter's ballot box at its edges: a review validated into its seat's ballot (and
refused when forged), the last one tallying in the same write, and the reviewing deadline —
not due before its time (known without a read when this process holds the record), closing
the box and tallying at it, and emitting the same tally on redelivery."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from schemas import subjects
from schemas.dlq import DeadLetter
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from services._runtime.errors import NotYetDue, Rejected, UnknownTask
from services._runtime.memory_bus import MemoryBus, Pending
from services._runtime.records import KvRecordStore
from services._runtime.route import Delivery
from services.inmemory import InMemoryServices
from services.voter import handlers as voter
from services.voter.handlers import VoterDeps
from services.voter.settings import VoterSettings

from .._runtime.test_record_cache import FakeKv
from ..builders import NOW, proposal_for, record, review_for
from ..opened_task import opened, submitted, timer


async def reviewing(inmem: InMemoryServices) -> list[ReviewRequested]:
    """Task h-1 with every seat's proposal in: the review requests."""
    out: list[Any] = []
    for request in await opened(inmem):
        out = list(await submitted(inmem, proposal_for(request, "42")))
    return [m for m in out if isinstance(m, ReviewRequested)]


def forged(review: ReviewSubmitted, agent_id: str) -> Delivery:
    """``review`` (its body unchanged) as it arrives when published on ``agent_id``'s
    review subject."""
    subject = subjects.subject_for(msgspec.structs.replace(review, agent_id=agent_id))
    return Delivery(subject, 1, 1, msgspec.json.encode(review))


async def test_a_review_on_another_agents_subject_is_dead_lettered_and_casts_no_ballot(
    inmem: InMemoryServices,
) -> None:
    requests = await reviewing(inmem)
    review = review_for(requests[0], "42")
    other = requests[1].agent_id
    with pytest.raises(Rejected, match="not on its own subject"):
        await voter.on_review(review, forged(review, other), inmem.voter)
    # On the bus, as the worker settles it: a dead letter of the voter's review route.
    bus: MemoryBus = inmem.bus()
    [route] = [r for r in bus.routes["voter"] if r.name == "voter-reviews"]
    bus.ready.append(Pending("voter", route, forged(review, other)))
    await bus.run()
    [letter] = bus.of_type(DeadLetter)
    assert (letter.service, letter.subject) == ("voter", f"nsed.events.h-1.review.{other}")
    assert letter.message_id.startswith("dlq:voter-reviews:")
    assert "not on its own subject" in letter.error
    assert bus.of_type(TallyComputed) == []
    assert inmem.store.records["h-1"].current.ballots == ()
    # The seat's own review, on its own subject, still counts.
    assert await submitted(inmem, review) == []
    [counted] = inmem.store.records["h-1"].current.ballots
    assert (counted.seat, counted.valid) == (0, True)


async def test_a_review_claiming_another_agents_seat_on_its_own_subject_is_rejected(
    inmem: InMemoryServices,
) -> None:
    requests = await reviewing(inmem)
    seat0, holder = requests[0], requests[1].agent_id
    claim = msgspec.structs.replace(review_for(seat0, "42"), agent_id=holder)
    with pytest.raises(Rejected, match=f"seat {seat0.seat} of round 1 is not held by"):
        await submitted(inmem, claim)
    assert inmem.store.records["h-1"].current.ballots == ()


async def test_the_reviewing_deadline_closes_the_box_and_tallies_in_one_write(
    inmem: InMemoryServices,
) -> None:
    requests = await reviewing(inmem)
    assert await submitted(inmem, review_for(requests[0], "42")) == []  # still reviewing
    with pytest.raises(NotYetDue):
        await inmem.handle(timer("h-1", 1, "reviewing"))
    inmem.clock.now = inmem.store.records["h-1"].current.phase_deadline + 1
    writes = inmem.store.writes
    [tally] = await inmem.handle(timer("h-1", 1, "reviewing"))
    assert inmem.store.writes == writes + 1
    record_now = inmem.store.records["h-1"]
    assert record_now.current.phase == "gating"
    assert (tally.valid_ballots, tally.quorum_met) == (1, False)
    assert [(b.seat, b.notes) for b in tally.ballots if not b.valid] == [
        (1, ("review timed out",)),
        (2, ("review timed out",)),
    ]
    # Redelivered (its tally lost in a crash): the same tally, and no write.
    assert await inmem.handle(timer("h-1", 1, "reviewing")) == [tally]
    assert inmem.store.writes == writes + 1
    # A review after the deadline does not replace the timed-out ballot.
    await submitted(inmem, review_for(requests[1], "42"))
    [kept] = [b for b in inmem.store.records["h-1"].current.ballots if b.seat == 1]
    assert not kept.valid


async def test_a_reviewing_timer_after_the_last_review_tallied_emits_nothing(
    inmem: InMemoryServices,
) -> None:
    requests = await reviewing(inmem)
    out: list[Any] = []
    for request in requests:
        out = list(await submitted(inmem, review_for(request, "42")))
    [tally] = out
    assert isinstance(tally, TallyComputed)
    inmem.clock.now = NOW + 10_000
    writes = inmem.store.writes
    assert await inmem.handle(timer("h-1", 1, "reviewing")) == []  # the review emitted it
    assert inmem.store.writes == writes


class CountingKv(FakeKv):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, key: str) -> Any:
        self.gets += 1
        return await super().get(key)


async def test_an_early_timer_of_a_record_this_process_holds_waits_without_a_read() -> None:
    kv = CountingKv()
    store = KvRecordStore(kv)  # type: ignore[arg-type]
    rec = record(phase="reviewing")
    await store.create(rec)
    deps = VoterDeps(store=store, clock=lambda: NOW, settings=VoterSettings())
    due = msgspec.structs.replace(timer(rec.task_id, 1, "reviewing"), due_at=NOW + 30)
    # Not held yet (only created): the record is read to know the task exists.
    with pytest.raises(NotYetDue):
        await voter.on_timer(due, deps)
    assert kv.gets == 1
    # Held (this process wrote it): the task exists, and an early timer costs no read.
    await store.update(rec.task_id, lambda r: msgspec.structs.replace(r, evidence=0.5))
    reads = kv.gets
    with pytest.raises(NotYetDue) as caught:
        await voter.on_timer(due, deps)
    assert caught.value.delay == pytest.approx(30)
    assert kv.gets == reads
    # A timer of a task no record holds is refused, due or not.
    ghost = msgspec.structs.replace(due, task_id="ghost")
    with pytest.raises(UnknownTask):
        await voter.on_timer(ghost, deps)
