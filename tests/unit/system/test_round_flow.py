"""One round driven by hand through every service's routes — broker → reviewer → voter →
gate → broker — over the in-memory record store: the record's transitions (the last review
fills the ballot box and tallies in one write), and redelivery of any message emitting the
same messages without touching the record again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.base import Message
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime import tracing
from services.core import ids
from services.inmemory import InMemoryServices

from ..builders import NOW, proposal_for, review_for

ANSWERS = {"alpha": "42", "bravo": "41", "charlie": "42"}


async def twice(inmem: InMemoryServices, msg: Message) -> list[Message]:
    """Handle ``msg`` on the route its subject reaches, then its redelivery: the same
    output, and no second write."""
    first = await inmem.handle(msg, seq=7)
    writes, records = inmem.store.writes, dict(inmem.store.records)
    second = await inmem.handle(msg, seq=7, delivered=2)
    assert second == first
    assert inmem.store.writes == writes
    assert inmem.store.records == records
    return first


def of_type(messages: Sequence[Message], kind: type[Message]) -> list[Any]:
    return [m for m in messages if isinstance(m, kind)]


def the_task(task_id: str, **policy: Any) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt="What is 6 times 7?",
        answer_format="integer",
        reference_answer="42",
        policy=Policy(**policy),
    )


async def propose_all(
    inmem: InMemoryServices, requests: list[ProposeRequested], answers: dict[str, str] = ANSWERS
) -> list[Message]:
    """Every seat proposes; returns what the last proposal released."""
    out: list[Message] = []
    for i, request in enumerate(requests):
        out = await twice(inmem, proposal_for(request, answers[request.agent_id]))
        if i < len(requests) - 1:
            assert out == []  # the phase waits for every seat
    return out


async def review_all(
    inmem: InMemoryServices, requests: list[ReviewRequested], beliefs: dict[str, str]
) -> TallyComputed:
    """Every reviewer reviews; the voter emits nothing until the last review, whose one
    write fills the ballot box and tallies. Returns that tally."""
    out: list[Message] = []
    for i, request in enumerate(requests):
        writes = inmem.store.writes
        out = await twice(inmem, review_for(request, beliefs[request.agent_id]))
        assert inmem.store.writes == writes + 1
        if i < len(requests) - 1:
            assert out == []  # the box is not full yet
    [tally] = out
    assert isinstance(tally, TallyComputed)
    return tally


async def test_one_round_runs_through_every_handler_and_concludes(inmem: InMemoryServices) -> None:
    task = the_task("flow-1")
    opened = await twice(inmem, task)
    assert [type(m) for m in opened] == [TeamSelected, PhaseDue, *[ProposeRequested] * 3, PhaseDue]
    requests = of_type(opened, ProposeRequested)
    assert [(r.seat, r.agent_id) for r in requests] == [(0, "alpha"), (1, "bravo"), (2, "charlie")]
    assert [r.message_id for r in requests] == [ids.propose("flow-1", 1, s) for s in range(3)]
    assert all(r.state is None and r.feedback == () for r in requests)
    record = inmem.store.records["flow-1"]
    assert (record.current.number, record.current.phase) == (1, "proposing")
    # no deadline in the policy: every phase it may run (2 × 6 rounds) plus one, at the
    # phase timeout the team's latency gives (the 30 s floor here)
    assert record.deadline_at == NOW + 13 * record.phase_timeout_s

    released = await propose_all(inmem, requests, dict.fromkeys(ANSWERS, "42"))
    record = inmem.store.records["flow-1"]
    assert record.current.phase == "reviewing"
    assert set(record.current.packets) == {0, 1, 2}
    reviews = of_type(released, ReviewRequested)
    assert [r.seat for r in reviews] == [0, 1, 2]
    # no reviewing timer: one is armed only if the round is still reviewing when its
    # proposing timer falls due (tests/unit/reviewer/test_reviewer_phases.py)
    assert of_type(released, PhaseDue) == []
    for r in reviews:
        assert len(r.candidates) == 2
        assert all("alpha" not in c.content and "bravo" not in c.content for c in r.candidates)

    tally = await review_all(inmem, reviews, dict.fromkeys(ANSWERS, "42"))
    record = inmem.store.records["flow-1"]
    assert record.current.phase == "gating"
    ballots = record.current.ballots
    assert sorted(b.seat for b in ballots) == [0, 1, 2]
    for ballot in ballots:
        assert ballot.valid
        assert set(ballot.weights) <= {p.proposal_id for p in record.current.proposals}
        assert ballot.ungrounded_quotes == 0
    # The tally goes out with every ballot, in seat order, for watchers; the record keeps
    # its tally without that copy (it holds the ballots already).
    assert tally.ballots == tuple(sorted(ballots, key=lambda b: b.seat))
    assert record.current.tally == msgspec.structs.replace(tally, ballots=())
    assert isinstance(tally, TallyComputed)
    assert tally.message_id == ids.tally("flow-1", 1)
    # three equal proposals of one answer: the tie is broken by the task's seeded hash
    assert tally.winner == ids.proposal_ref("flow-1", 1, tally.winner_seat)
    assert tally.winner_answer == "42"
    assert tally.quorum_met
    assert tally.unanimous
    assert inmem.store.records["flow-1"].current.phase == "gating"

    inmem.clock.now = NOW + 12
    [result] = await twice(inmem, tally)
    assert isinstance(result, DeliberationConcluded)
    assert (result.status, result.stop_reason, result.correct) == ("completed", "converged", True)
    winner_agent = ("alpha", "bravo", "charlie")[tally.winner_seat or 0]
    assert (result.extracted_answer, result.winner_agent, result.rounds) == ("42", winner_agent, 1)
    # No client trace: the task's trace id is derived from its id (services/_runtime/tracing).
    assert result.trace_id == f"{tracing.root_context('flow-1').trace_id:032x}"
    assert result.usage["bravo"].calls == 2  # one proposal, one review
    assert result.total.calls == 6
    assert inmem.store.records["flow-1"].done
    # a late redelivery of the task itself re-emits nothing once round 1 is over
    assert await twice(inmem, task) == []
    # nor does the task-deadline timer: the result went out with the tally
    [deadline] = of_type(opened, PhaseDue)[:1]
    assert (deadline.phase, deadline.owner) == ("task", "gate")
    inmem.clock.now = NOW + 700
    assert await twice(inmem, deadline) == []


async def test_a_contested_round_continues_with_state_and_feedback(inmem: InMemoryServices) -> None:
    opened = await twice(inmem, the_task("flow-2"))
    released = await propose_all(inmem, of_type(opened, ProposeRequested))
    # bravo believes its own 41: nobody's ballots agree, so the round is not unanimous
    tally = await review_all(
        inmem, of_type(released, ReviewRequested), {"alpha": "42", "bravo": "41", "charlie": "42"}
    )
    assert not tally.unanimous

    inmem.clock.now = NOW + 12
    [continued] = await twice(inmem, tally)
    assert isinstance(continued, RoundContinued)
    assert (continued.round, continued.next_round) == (1, 2)
    assert continued.message_id == ids.continued("flow-2", 1)
    assert continued.spend_usd > 0
    record = inmem.store.records["flow-2"]
    assert (record.current.number, record.current.phase) == (2, "proposing")
    assert record.current.proposals == ()
    assert record.current.ballots == ()

    dispatched = await twice(inmem, continued)
    round2 = of_type(dispatched, ProposeRequested)
    assert [r.message_id for r in round2] == [ids.propose("flow-2", 2, s) for s in range(3)]
    assert of_type(dispatched, PhaseDue)[0].message_id == ids.timer("flow-2", 2, "proposing")
    by_agent = {r.agent_id: r for r in round2}
    for request in round2:
        assert request.round == 2
        assert request.state == continued.state
        assert request.state is not None
        assert request.state.items[0].kind == "winner"
        assert request.previous_answer == ANSWERS[request.agent_id]
        assert request.task.task_id == "flow-2"
    assert any(line.endswith(": the product is 42") for line in by_agent["bravo"].feedback)
    assert any("judged wrong" in line for line in by_agent["bravo"].feedback)
    assert by_agent["alpha"].feedback
    assert any(line.endswith(": the product is 41") for line in by_agent["alpha"].feedback)
    assert continued.state.tokens <= Policy().state_token_budget

    # a continued message for a round that has moved on is stale
    stale = msgspec.structs.replace(continued, next_round=1)
    assert await twice(inmem, stale) == []
    # and the round-1 tally, redelivered late, re-emits the same continued message
    assert await twice(inmem, tally) == [continued]


async def test_a_proposal_redelivered_after_review_opened_re_emits_the_review_phase(
    inmem: InMemoryServices,
) -> None:
    opened = await twice(inmem, the_task("flow-3"))
    requests = of_type(opened, ProposeRequested)
    released = await propose_all(inmem, requests)
    early = proposal_for(requests[0], ANSWERS["alpha"])
    assert await twice(inmem, early) == released


async def test_a_second_different_proposal_for_a_seat_is_ignored(inmem: InMemoryServices) -> None:
    opened = await twice(inmem, the_task("flow-4"))
    request = of_type(opened, ProposeRequested)[0]
    await twice(inmem, proposal_for(request, "42"))
    other = msgspec.structs.replace(proposal_for(request, "7"), message_id="another-id")
    assert await twice(inmem, other) == []
    [kept] = inmem.store.records["flow-4"].current.proposals
    assert kept.extracted_answer == "42"


async def test_redelivered_proposals_are_recorded_once(inmem: InMemoryServices) -> None:
    opened = await twice(inmem, the_task("flow-5"))
    request = of_type(opened, ProposeRequested)[1]
    msg: ProposalSubmitted = proposal_for(request, "41")
    for _ in range(3):
        await inmem.handle(msg, delivered=3)
    record = inmem.store.records["flow-5"]
    assert len(record.current.proposals) == 1
    assert record.usage["bravo"].calls == 1
