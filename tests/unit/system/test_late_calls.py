"""Every call that was made is paid for in the record: proposals and reviews that arrive
after their seat timed out, or after the task concluded, are added to the spend once."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.base import Usage
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from schemas.timers import PhaseDue
from services.inmemory import InMemoryServices
from tests.unit.system.test_round_flow import of_type, the_task, twice

from ..builders import NOW, proposal_for, review_for


def _spent(inmem: InMemoryServices, task_id: str) -> Usage:
    return sum(inmem.store.records[task_id].usage.values(), Usage())


def _timer(messages: list[Any], phase: str) -> PhaseDue:
    return next(m for m in of_type(messages, PhaseDue) if m.phase == phase)


async def test_a_proposal_after_its_seat_timed_out_is_paid_once_and_reaches_the_result(
    inmem: InMemoryServices,
) -> None:
    opened = await twice(inmem, the_task("late-1", max_rounds=1))
    requests = of_type(opened, ProposeRequested)
    for request in requests[:2]:
        await twice(inmem, proposal_for(request, "42"))
    inmem.clock.now = NOW + 31  # past the proposing deadline: charlie's seat times out
    released = await twice(inmem, _timer(opened, "proposing"))
    assert inmem.store.records["late-1"].current.timed_out == (2,)
    before = _spent(inmem, "late-1")

    late = proposal_for(requests[2], "42")
    assert await twice(inmem, late) == []

    record = inmem.store.records["late-1"]
    assert _spent(inmem, "late-1") == before + late.usage
    assert record.usage["charlie"] == late.usage
    assert record.current.usage["charlie"] == late.usage  # the round's cost too
    assert [p.seat for p in record.current.proposals] == [0, 1]  # paid, not counted as a vote

    out: list[Any] = []
    for request in of_type(released, ReviewRequested):
        out = await twice(inmem, review_for(request, "42"))
    [tally] = out  # the last review tallies
    [result] = await twice(inmem, tally)
    assert isinstance(result, DeliberationConcluded)
    assert result.usage["charlie"] == late.usage
    assert result.total == _spent(inmem, "late-1")
    assert result.summaries[0].cost_usd == round(result.total.cost_usd, 8)


async def test_a_review_after_the_ballot_box_closed_is_paid_once(inmem: InMemoryServices) -> None:
    opened = await twice(inmem, the_task("late-2", max_rounds=1))
    released: list[Any] = []
    for request in of_type(opened, ProposeRequested):
        released = await twice(inmem, proposal_for(request, "42"))
    reviews = of_type(released, ReviewRequested)
    for request in reviews[:2]:
        await twice(inmem, review_for(request, "42"))
    inmem.clock.now = NOW + 61
    # the round is still reviewing when its proposing timer falls due: that arms the
    # reviewing timer, already due here
    [reviewing] = await twice(inmem, _timer(opened, "proposing"))
    assert (reviewing.phase, reviewing.owner) == ("reviewing", "voter")
    [tally] = await twice(inmem, reviewing)
    record = inmem.store.records["late-2"]
    assert record.current.phase == "gating"  # closed and tallied in one write
    before = _spent(inmem, "late-2")

    late = review_for(reviews[2], "42")
    assert await twice(inmem, late) == [tally]  # the record's tally, the same message

    assert _spent(inmem, "late-2") == before + late.usage
    [timed_out] = [b for b in inmem.store.records["late-2"].current.ballots if b.seat == 2]
    assert "review timed out" in timed_out.notes  # the ballot stays closed


async def test_a_proposal_after_the_task_concluded_is_paid_in_the_record(
    inmem: InMemoryServices,
) -> None:
    opened = await twice(inmem, the_task("late-3", deadline_s=20.0))
    requests = of_type(opened, ProposeRequested)
    await twice(inmem, proposal_for(requests[0], "42"))
    inmem.clock.now = NOW + 21
    [result] = await twice(inmem, _timer(opened, "task"))
    assert isinstance(result, DeliberationConcluded)
    assert result.stop_reason == "deadline"

    late = proposal_for(requests[1], "42")
    await twice(inmem, late)

    record = inmem.store.records["late-3"]
    assert record.usage["bravo"] == late.usage
    assert _spent(inmem, "late-3") == result.total + late.usage


async def test_a_proposal_nobody_is_waiting_for_is_not_paid(inmem: InMemoryServices) -> None:
    opened = await twice(inmem, the_task("late-4"))
    request = of_type(opened, ProposeRequested)[0]
    await twice(inmem, proposal_for(request, "42"))
    before = _spent(inmem, "late-4")
    # the same seat again, under another message id: a repeat, not a call that was owed
    other = msgspec.structs.replace(proposal_for(request, "7"), message_id="x:1:proposal:0")
    await twice(inmem, other)
    assert _spent(inmem, "late-4") == before
