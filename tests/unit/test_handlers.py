"""Handlers at their edges: no team, conflicting and anonymous tasks, seats held by someone
else, stale messages, and the phase and task timers."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from schemas.ballot import BallotAccepted
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState, ProposeRequested
from schemas.review import ReviewRequested
from schemas.task import Policy, TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, Rejected
from services.broker import handlers as broker
from services.core import ids
from services.gate import handlers as gate
from services.reviewer import handlers as reviewer
from services.voter import handlers as voter

from .builders import NOW, card, delivery, proposal_for, review_for, tally
from .conftest import Stack


def task(task_id: str | None = "h-1", **policy: Any) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt="What is 6 times 7?",
        answer_format="integer",
        policy=Policy(**policy),
    )


def timer(task_id: str, round_number: int, phase: str, owner: str = "reviewer") -> PhaseDue:
    return PhaseDue(
        task_id=task_id,
        round=round_number,
        message_id=ids.timer(task_id, round_number, phase),
        phase=phase,
        owner=owner,
        due_at=0.0,
    )


async def opened(stack: Stack, task_id: str = "h-1", **policy: Any) -> list[ProposeRequested]:
    out = await broker.on_task(task(task_id, **policy), delivery(), stack.broker)
    return [m for m in out if isinstance(m, ProposeRequested)]


async def test_a_task_no_team_can_serve_fails_at_once_with_the_reason(stack: Stack) -> None:
    stack.registry.clear()
    out = await broker.on_task(task(), delivery(), stack.broker)
    [result] = out
    assert isinstance(result, DeliberationConcluded)
    assert (result.status, result.stop_reason) == ("failed", "no_team")
    assert result.detail.startswith("0 live agents")
    assert result.message_id == ids.result("h-1")
    assert stack.store.records["h-1"].done
    assert await broker.on_task(task(), delivery(), stack.broker) == [result]


async def test_a_task_id_reused_by_another_task_is_refused_and_dead_lettered(
    stack: Stack,
) -> None:
    await broker.on_task(task(), delivery(), stack.broker)
    before = stack.store.records["h-1"]
    other = msgspec.structs.replace(task(), prompt="Something else")
    refused, letter = await broker.on_task(other, delivery(seq=9), stack.broker)
    assert isinstance(refused, TaskRefused)
    assert refused.task_id == "h-1"
    assert "already used by another task" in refused.reason
    assert isinstance(letter, DeadLetter)
    assert (letter.service, letter.stream_seq, letter.error) == ("broker", 9, refused.reason)
    assert stack.store.records["h-1"] == before  # the task that holds the id is untouched


async def test_the_same_task_sent_again_after_it_ended_gets_its_result_again(
    stack: Stack,
) -> None:
    stack.registry.clear()  # no team: the task ends at once with a result
    [first] = await broker.on_task(task(), delivery(seq=1), stack.broker)
    resent = msgspec.structs.replace(task(), submitted_at=123.0)  # sent again, later
    [again] = await broker.on_task(resent, delivery(seq=2), stack.broker)
    assert isinstance(again, DeliberationConcluded)
    assert again.message_id == ids.result_again("h-1", 2) != first.message_id
    assert msgspec.structs.replace(again, message_id=first.message_id) == first


async def test_a_task_without_an_id_gets_one_that_is_stable_on_redelivery(stack: Stack) -> None:
    payload = b'{"prompt": "What is 6 times 7?"}'
    anonymous = task(None)
    first = await broker.on_task(anonymous, delivery(payload, seq=41), stack.broker)
    again = await broker.on_task(anonymous, delivery(payload, seq=41), stack.broker)
    assert first == again
    task_id = first[0].task_id
    assert task_id.startswith("t41-")
    assert list(stack.store.records) == [task_id]


async def test_a_rejected_task_with_a_readable_id_still_gets_a_failed_result(
    stack: Stack,
) -> None:
    payload = b'{"task_id": "bad-1", "prompt": "p", "policy": {"team_size": 0}}'
    [result] = await broker.reject_task(payload, Rejected("team_size >= 1"), stack.broker)
    assert isinstance(result, DeliberationConcluded)
    assert (result.task_id, result.status, result.stop_reason) == ("bad-1", "failed", "error")
    assert "team_size" in result.detail
    # never the id a real result of that task would carry
    assert result.message_id != ids.result("bad-1")
    assert await broker.reject_task(b'{"task_id": "a b"}', Rejected("x"), stack.broker) == []
    assert await broker.reject_task(b"\xff", Rejected("x"), stack.broker) == []


async def test_a_malformed_task_reusing_a_running_tasks_id_gets_no_result(
    stack: Stack,
) -> None:
    await broker.on_task(task(), delivery(), stack.broker)
    payload = b'{"task_id": "h-1", "prompt": "p", "policy": {"team_size": 0}}'
    assert await broker.reject_task(payload, Rejected("team_size >= 1"), stack.broker) == []
    assert stack.store.records["h-1"].result is None


async def test_a_continued_round_without_a_record_is_rejected(stack: Stack) -> None:
    msg = RoundContinued(
        task_id="nope", round=1, message_id="m", next_round=2, state=ConsensusState()
    )
    with pytest.raises(Rejected):
        await broker.on_continued(msg, delivery(), stack.broker)


async def test_a_proposal_from_an_agent_not_holding_the_seat_is_rejected(stack: Stack) -> None:
    requests = await opened(stack)
    forged = msgspec.structs.replace(proposal_for(requests[0], "42"), agent_id="mallory")
    with pytest.raises(Rejected, match="seat 0"):
        await reviewer.on_proposal(forged, delivery(), stack.reviewer)
    assert stack.store.records["h-1"].current.proposals == ()


async def test_a_proposal_for_another_round_changes_nothing(stack: Stack) -> None:
    requests = await opened(stack)
    stale = msgspec.structs.replace(proposal_for(requests[0], "42"), round=3)
    writes = stack.store.writes
    assert await reviewer.on_proposal(stale, delivery(), stack.reviewer) == []
    assert stack.store.writes == writes


async def test_a_proposing_timer_before_its_deadline_is_not_due(stack: Stack) -> None:
    await opened(stack)
    deadline = stack.store.records["h-1"].current.phase_deadline
    stack.clock.now = deadline - 2.5
    with pytest.raises(NotYetDue) as caught:
        await reviewer.on_timer(timer("h-1", 1, "proposing"), delivery(), stack.reviewer)
    assert caught.value.delay == pytest.approx(2.5)


async def test_the_proposing_deadline_times_out_missing_seats_and_opens_review(
    stack: Stack,
) -> None:
    requests = await opened(stack)
    for request in requests[:2]:
        await reviewer.on_proposal(proposal_for(request, "42"), delivery(), stack.reviewer)
    stack.clock.now = stack.store.records["h-1"].current.phase_deadline
    out = await reviewer.on_timer(timer("h-1", 1, "proposing"), delivery(), stack.reviewer)
    record = stack.store.records["h-1"]
    assert (record.current.phase, record.current.timed_out) == ("reviewing", (2,))
    assert [m.seat for m in out if isinstance(m, ReviewRequested)] == [0, 1]
    [absent] = [m for m in out if isinstance(m, BallotAccepted)]
    assert (absent.seat, absent.valid) == (2, False)
    assert "no proposal in time" in absent.notes[0]
    # the late proposal is not recorded any more
    await reviewer.on_proposal(proposal_for(requests[2], "42"), delivery(), stack.reviewer)
    assert len(stack.store.records["h-1"].current.proposals) == 2
    # the timer redelivered (its outputs lost in a crash) emits the same messages again
    writes = stack.store.writes
    assert await reviewer.on_timer(timer("h-1", 1, "proposing"), delivery(), stack.reviewer) == out
    assert stack.store.writes == writes


async def test_a_timer_for_a_phase_that_closed_on_its_own_emits_nothing(stack: Stack) -> None:
    for request in await opened(stack):
        await reviewer.on_proposal(proposal_for(request, "42"), delivery(), stack.reviewer)
    stack.clock.now = NOW + 10_000
    assert await reviewer.on_timer(timer("h-1", 1, "proposing"), delivery(), stack.reviewer) == []


async def test_error_proposals_neither_review_nor_get_reviewed(stack: Stack) -> None:
    requests = await opened(stack)
    await reviewer.on_proposal(proposal_for(requests[0], "42"), delivery(), stack.reviewer)
    await reviewer.on_proposal(
        proposal_for(requests[1], "", status="error"), delivery(), stack.reviewer
    )
    out = await reviewer.on_proposal(proposal_for(requests[2], "42"), delivery(), stack.reviewer)
    reviews = [m for m in out if isinstance(m, ReviewRequested)]
    assert [r.seat for r in reviews] == [0, 2]
    assert all(len(r.candidates) == 1 for r in reviews)
    [absent] = [m for m in out if isinstance(m, BallotAccepted)]
    assert absent.seat == 1
    assert "proposal error" in absent.notes[0]


async def test_the_reviewing_deadline_closes_the_ballot_box(stack: Stack) -> None:
    requests = await opened(stack)
    out: list[Any] = []
    for request in requests:
        out = list(
            await reviewer.on_proposal(proposal_for(request, "42"), delivery(), stack.reviewer)
        )
    reviews = [m for m in out if isinstance(m, ReviewRequested)]
    [ballot] = await reviewer.on_review(review_for(reviews[0], "42"), delivery(), stack.reviewer)
    assert await voter.on_ballot(ballot, delivery(), stack.voter) == []  # still reviewing
    with pytest.raises(NotYetDue):
        await reviewer.on_timer(timer("h-1", 1, "reviewing"), delivery(), stack.reviewer)
    stack.clock.now = stack.store.records["h-1"].current.phase_deadline + 1
    closed = await reviewer.on_timer(timer("h-1", 1, "reviewing"), delivery(), stack.reviewer)
    assert stack.store.records["h-1"].current.phase == "voting"
    again = await reviewer.on_timer(timer("h-1", 1, "reviewing"), delivery(), stack.reviewer)
    assert again == closed  # redelivered: every ballot again, for the voter to tally
    late = [b for b in closed if isinstance(b, BallotAccepted) and not b.valid]
    assert [(b.seat, b.notes) for b in late] == [
        (1, ("review timed out",)),
        (2, ("review timed out",)),
    ]
    # a review that arrives after the deadline does not replace the timed-out ballot
    [kept] = await reviewer.on_review(review_for(reviews[1], "42"), delivery(), stack.reviewer)
    assert not kept.valid
    # Ballots published once the box is closed are final: any of them releases the tally.
    assert all(b.final for b in late)
    [tally] = await voter.on_ballot(late[0], delivery(), stack.voter)
    assert (tally.valid_ballots, tally.quorum_met) == (1, False)


async def test_the_task_deadline_ends_a_deliberation_that_has_not_ended(stack: Stack) -> None:
    await opened(stack, deadline_s=60.0)
    due = timer("h-1", 0, "task", owner="gate")
    stack.clock.now = NOW + 59
    with pytest.raises(NotYetDue):
        await gate.on_timer(due, delivery(), stack.gate)
    stack.clock.now = NOW + 60
    [result] = await gate.on_timer(due, delivery(), stack.gate)
    assert (result.status, result.stop_reason) == ("failed", "deadline")
    assert "round 1 (proposing)" in result.detail
    writes = stack.store.writes
    # redelivered (the result lost in a crash): the same result again, nothing rewritten
    assert await gate.on_timer(due, delivery(), stack.gate) == [result]
    assert stack.store.writes == writes


async def test_a_deadline_timer_after_a_normal_conclusion_emits_nothing(stack: Stack) -> None:
    # A deliberation that stopped on its own (here: the halting rule's "no time for another
    # round") has emitted its result; the task timer falling due later must not emit it
    # again, or a long deadline would put a second result past the duplicate window.
    await opened(stack, deadline_s=60.0)
    halted = msgspec.structs.replace(
        stack.store.records["h-1"],
        result=DeliberationConcluded(
            task_id="h-1", round=1, message_id=ids.result("h-1"), status="completed",
            stop_reason="deadline",
        ),
    )  # fmt: skip
    stack.store.records["h-1"] = halted
    stack.clock.now = NOW + 61
    assert await gate.on_timer(timer("h-1", 0, "task", owner="gate"), delivery(), stack.gate) == []


async def test_a_tally_for_another_round_leaves_the_record_alone(stack: Stack) -> None:
    await opened(stack)
    writes = stack.store.writes
    assert await gate.on_tally(tally(task_id="h-1", round=5), delivery(), stack.gate) == []
    assert stack.store.writes == writes


async def test_a_misspelt_policy_field_is_reported_on_the_team_and_the_result(
    stack: Stack,
) -> None:
    sent = msgspec.json.encode(task(deadline_s=60.0))
    raw = msgspec.json.decode(sent)
    raw["policy"]["max_round"] = 2  # the broker decodes it as the default max_rounds
    payload = msgspec.json.encode(raw)
    out = await broker.on_task(msgspec.json.decode(payload, type=TaskSubmitted),
                               delivery(payload), stack.broker)  # fmt: skip
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    expected = ("unknown field 'policy.max_round' ignored (did you mean 'policy.max_rounds'?)",)
    assert team.warnings == expected
    stack.clock.now = NOW + 60
    [result] = await gate.on_timer(timer("h-1", 0, "task", owner="gate"), delivery(), stack.gate)
    assert result.warnings == expected
    # A task no team can serve says it too, and a task as the schema has it says nothing.
    stack.registry.clear()
    [failed] = await broker.on_task(task("h-2"), delivery(payload.replace(b"h-1", b"h-2")),
                                    stack.broker)  # fmt: skip
    assert (failed.stop_reason, failed.warnings) == ("no_team", expected)
    [clean] = await broker.on_task(task("h-3"), delivery(msgspec.json.encode(task("h-3"))),
                                   stack.broker)  # fmt: skip
    assert clean.warnings == ()


async def test_the_team_says_whether_simulated_agents_hold_its_seats(stack: Stack) -> None:
    out = await broker.on_task(task("h-1"), delivery(), stack.broker)
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    assert team.simulated  # the unit pool's cards are backend "sim"
    stack.registry.clear()
    for agent_id in ("alpha", "bravo", "charlie"):
        stack.registry.put(
            f"{agent_id}.i1", msgspec.structs.replace(card(agent_id), backend="openai")
        )
    out = await broker.on_task(task("h-2"), delivery(), stack.broker)
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    assert not team.simulated
