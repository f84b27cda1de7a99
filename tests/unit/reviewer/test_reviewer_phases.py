"""The reviewer's phases at their edges: a proposal from an agent not holding the seat or
for another round, error proposals, and the proposing deadline — not due before its time,
closing the phase at it, and emitting the same messages on redelivery; and the reviewing
timer, armed only for a round still reviewing when its proposing timer falls due. (The
reviewing deadline itself is the voter's: tests/unit/voter/test_voter_reviews.py.)"""

from __future__ import annotations

import msgspec
import pytest

from schemas.ballot import VotingOpened
from schemas.review import ReviewRequested
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, Rejected
from services.core import ids
from services.inmemory import InMemoryServices

from ..builders import NOW, proposal_for
from ..opened_task import opened, submitted, timer


async def test_a_proposal_from_an_agent_not_holding_the_seat_is_rejected(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    forged = msgspec.structs.replace(proposal_for(requests[0], "42"), agent_id="mallory")
    with pytest.raises(Rejected, match="seat 0"):
        await submitted(inmem, forged)
    assert inmem.store.records["h-1"].current.proposals == ()


async def test_a_proposal_for_another_round_changes_nothing(inmem: InMemoryServices) -> None:
    requests = await opened(inmem)
    stale = msgspec.structs.replace(proposal_for(requests[0], "42"), round=3)
    writes = inmem.store.writes
    assert await submitted(inmem, stale) == []
    assert inmem.store.writes == writes


async def test_a_proposing_timer_before_its_deadline_is_not_due(inmem: InMemoryServices) -> None:
    await opened(inmem)
    deadline = inmem.store.records["h-1"].current.phase_deadline
    inmem.clock.now = deadline - 2.5
    with pytest.raises(NotYetDue) as caught:
        await inmem.handle(timer("h-1", 1, "proposing"))
    assert caught.value.delay == pytest.approx(2.5)


async def test_the_proposing_deadline_times_out_missing_seats_and_opens_review(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    for request in requests[:2]:
        await submitted(inmem, proposal_for(request, "42"))
    inmem.clock.now = inmem.store.records["h-1"].current.phase_deadline
    out = await inmem.handle(timer("h-1", 1, "proposing"))
    record = inmem.store.records["h-1"]
    assert (record.current.phase, record.current.timed_out) == ("reviewing", (2,))
    assert [m.seat for m in out if isinstance(m, ReviewRequested)] == [0, 1]
    [reviewing] = [m for m in out if isinstance(m, PhaseDue)]
    assert (reviewing.phase, reviewing.owner) == ("reviewing", "voter")
    assert reviewing.due_at == record.current.phase_deadline
    [absent] = record.current.ballots  # in the record, not sent: the voter holds the box
    assert (absent.seat, absent.valid) == (2, False)
    assert "no proposal in time" in absent.notes[0]
    # the late proposal is not recorded any more
    await submitted(inmem, proposal_for(requests[2], "42"))
    assert len(inmem.store.records["h-1"].current.proposals) == 2
    # the timer redelivered (its outputs lost in a crash) emits the same messages again
    writes = inmem.store.writes
    assert await inmem.handle(timer("h-1", 1, "proposing")) == out
    assert inmem.store.writes == writes


async def test_a_round_that_opens_review_on_its_own_arms_no_reviewing_timer(
    inmem: InMemoryServices,
) -> None:
    out = []
    for request in await opened(inmem):
        out += await submitted(inmem, proposal_for(request, "42"))
    assert [m.seat for m in out if isinstance(m, ReviewRequested)] == [0, 1, 2]
    assert [m for m in out if isinstance(m, PhaseDue)] == []


async def test_the_proposing_timer_of_a_round_still_reviewing_arms_the_reviewing_timer(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    proposing_deadline = inmem.store.records["h-1"].current.phase_deadline
    inmem.clock.now = NOW + 5  # the proposals come in 5 s after the round opened
    for request in requests:
        await submitted(inmem, proposal_for(request, "42"))
    cur = inmem.store.records["h-1"].current
    inmem.clock.now = proposing_deadline  # review is still open
    writes = inmem.store.writes
    [reviewing] = await inmem.handle(timer("h-1", 1, "proposing"))
    assert isinstance(reviewing, PhaseDue)
    assert (reviewing.phase, reviewing.owner, reviewing.round) == ("reviewing", "voter", 1)
    assert reviewing.due_at == cur.phase_deadline > inmem.clock.now
    assert reviewing.message_id == ids.timer("h-1", 1, "reviewing")
    assert inmem.store.writes == writes  # arming reads the record and writes nothing


async def test_a_proposing_timer_of_a_round_past_review_emits_nothing(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    for request in requests:
        await submitted(inmem, proposal_for(request, "42"))
    inmem.store.records["h-1"] = msgspec.structs.replace(
        inmem.store.records["h-1"],
        current=msgspec.structs.replace(inmem.store.records["h-1"].current, phase="gating"),
    )
    inmem.clock.now = NOW + 10_000
    assert await inmem.handle(timer("h-1", 1, "proposing")) == []


async def test_error_proposals_neither_review_nor_get_reviewed(inmem: InMemoryServices) -> None:
    requests = await opened(inmem)
    await submitted(inmem, proposal_for(requests[0], "42"))
    await submitted(inmem, proposal_for(requests[1], "", status="error"))
    out = await submitted(inmem, proposal_for(requests[2], "42"))
    reviews = [m for m in out if isinstance(m, ReviewRequested)]
    assert [r.seat for r in reviews] == [0, 2]
    assert all(len(r.candidates) == 1 for r in reviews)
    [absent] = inmem.store.records["h-1"].current.ballots
    assert absent.seat == 1
    assert "proposal error" in absent.notes[0]


async def test_a_round_nobody_can_review_goes_to_voting_with_one_voting_opened(
    inmem: InMemoryServices,
) -> None:
    """Only one ok proposal: no packet for anyone, every ballot absent, and the voter told
    by one message (the same again when the last proposal is redelivered)."""
    requests = await opened(inmem)
    await submitted(inmem, proposal_for(requests[0], "42"))
    await submitted(inmem, proposal_for(requests[1], "", status="error"))
    last = proposal_for(requests[2], "", status="error")
    [opening] = await submitted(inmem, last)
    assert isinstance(opening, VotingOpened)
    assert opening.message_id == ids.voting("h-1", 1)
    record = inmem.store.records["h-1"]
    assert record.current.phase == "voting"
    assert [b.seat for b in record.current.ballots] == [0, 1, 2]
    assert not any(b.valid for b in record.current.ballots)
    assert await submitted(inmem, last) == [opening]
    [tally] = await inmem.handle(opening)
    assert [b.seat for b in tally.ballots] == [0, 1, 2]
    assert inmem.store.records["h-1"].current.phase == "gating"
