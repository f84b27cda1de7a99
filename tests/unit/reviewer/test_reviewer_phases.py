"""The reviewer's phases at their edges: a proposal from an agent not holding the seat or
for another round, error proposals, and the proposing and reviewing deadlines — not due
before their time, closing the phase at it, and emitting the same messages on redelivery."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from schemas.ballot import BallotAccepted
from schemas.review import ReviewRequested
from services._runtime.errors import NotYetDue, Rejected
from services.inmemory import InMemoryServices

from ..builders import NOW, proposal_for, review_for
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
    [absent] = [m for m in out if isinstance(m, BallotAccepted)]
    assert (absent.seat, absent.valid) == (2, False)
    assert "no proposal in time" in absent.notes[0]
    # the late proposal is not recorded any more
    await submitted(inmem, proposal_for(requests[2], "42"))
    assert len(inmem.store.records["h-1"].current.proposals) == 2
    # the timer redelivered (its outputs lost in a crash) emits the same messages again
    writes = inmem.store.writes
    assert await inmem.handle(timer("h-1", 1, "proposing")) == out
    assert inmem.store.writes == writes


async def test_a_timer_for_a_phase_that_closed_on_its_own_emits_nothing(
    inmem: InMemoryServices,
) -> None:
    for request in await opened(inmem):
        await submitted(inmem, proposal_for(request, "42"))
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
    [absent] = [m for m in out if isinstance(m, BallotAccepted)]
    assert absent.seat == 1
    assert "proposal error" in absent.notes[0]


async def test_the_reviewing_deadline_closes_the_ballot_box(inmem: InMemoryServices) -> None:
    requests = await opened(inmem)
    out: list[Any] = []
    for request in requests:
        out = list(await submitted(inmem, proposal_for(request, "42")))
    reviews = [m for m in out if isinstance(m, ReviewRequested)]
    [ballot] = await submitted(inmem, review_for(reviews[0], "42"))
    assert await inmem.handle(ballot) == []  # still reviewing
    with pytest.raises(NotYetDue):
        await inmem.handle(timer("h-1", 1, "reviewing"))
    inmem.clock.now = inmem.store.records["h-1"].current.phase_deadline + 1
    closed = await inmem.handle(timer("h-1", 1, "reviewing"))
    assert inmem.store.records["h-1"].current.phase == "voting"
    again = await inmem.handle(timer("h-1", 1, "reviewing"))
    assert again == closed  # redelivered: every ballot again, for the voter to tally
    late = [b for b in closed if isinstance(b, BallotAccepted) and not b.valid]
    assert [(b.seat, b.notes) for b in late] == [
        (1, ("review timed out",)),
        (2, ("review timed out",)),
    ]
    # a review that arrives after the deadline does not replace the timed-out ballot
    [kept] = await submitted(inmem, review_for(reviews[1], "42"))
    assert not kept.valid
    # Ballots published once the box is closed are final: any of them releases the tally.
    assert all(b.final for b in late)
    [tally] = await inmem.handle(late[0])
    assert (tally.valid_ballots, tally.quorum_met) == (1, False)
