"""The gate's record transitions: close_round, conclude and conclude_at_deadline on records
built by hand — the next round, the result, its status and ``correct``."""

from __future__ import annotations

import msgspec

from schemas.base import Usage
from schemas.record import DeliberationRecord
from services.core import ids
from services.gate.early import conclude_at_deadline
from services.gate.rounds import close_round, conclude
from services.gate.settings import GateSettings
from services.reviewer.validation import absent_ballot

from ..builders import NOW, TASK, agreeing_round, ballot, gating, proposal, record, task, team

SETTINGS = GateSettings()
# seat 0 wins (42); reviewer 1 tops seat 2, so the round is not unanimous
CONTESTED = {0: {1: -50, 2: 50}, 1: {0: 40, 2: 60}, 2: {0: 90, 1: -10}}
# every seat answers 42 (AGREED) and every reviewer backs what it reviews: unanimous
AGREED = ["42", "42", "42"]
UNANIMOUS = {0: {1: 50, 2: 30}, 1: {0: 80, 2: 20}, 2: {0: 90, 1: 10}}


def with_reference(reference: str | None, **policy: object) -> dict[str, object]:
    return {"the_task": task(reference=reference, **policy)}


def closed(rec: DeliberationRecord, now: float = NOW + 20) -> DeliberationRecord:
    out = close_round(rec, now, SETTINGS)
    assert out is not None
    return out


def test_a_contested_round_opens_the_next_round_with_state_and_feedback() -> None:
    rec = agreeing_round(
        ["42", "41", "42"],
        CONTESTED,
        critiques={0: [(1, -50, "6×7 is not 41")], 2: [(1, -10, "check the product")]},
        **with_reference("42"),
    )
    assert rec.current.tally is not None
    assert not rec.current.tally.unanimous
    out = closed(rec)
    assert out.result is None
    assert (out.current.number, out.current.phase) == (2, "proposing")
    assert out.current.team == rec.current.team
    assert out.current.phase_deadline == NOW + 20 + rec.phase_timeout_s
    assert out.continued is not None
    assert out.continued.next_round == 2
    assert out.continued.message_id == ids.continued(TASK, 1)
    assert out.continued.state == out.state
    assert out.state.items[0].kind == "winner"
    assert out.state.items[0].source == ids.proposal_ref(TASK, 1, 0)
    assert out.state.tokens <= rec.task.policy.state_token_budget
    assert out.feedback == {1: ("6×7 is not 41", "check the product")}
    assert out.previous_answers == {0: "42", 1: "41", 2: "42"}
    assert out.last_winner is not None
    assert out.last_winner.seat == 0
    [summary] = out.summaries
    assert (summary.round, summary.winner_agent, summary.answer) == (1, "agent0", "42")
    assert not summary.degraded


def test_the_next_round_deadline_never_passes_the_task_deadline() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED, deadline_at=NOW + 25)
    out = closed(rec, now=NOW + 1)
    assert out.current.phase_deadline == NOW + 25


def test_a_unanimous_round_concludes_completed_and_correct() -> None:
    out = closed(agreeing_round(AGREED, UNANIMOUS, **with_reference("42")))
    result = out.result
    assert result is not None
    assert (result.status, result.stop_reason, result.correct) == ("completed", "converged", True)
    assert result.extracted_answer == "42"
    assert result.answer == out.current.proposals[0].content
    assert result.winner_agent == "agent0"
    assert result.message_id == ids.result(TASK)
    assert result.rounds == 1
    assert result.elapsed_s == 20.0
    assert out.current.phase == "done"
    assert out.done


def test_correct_compares_normalised_answers_with_the_reference() -> None:
    out = closed(agreeing_round(AGREED, UNANIMOUS, **with_reference("42.0")))
    assert out.result is not None
    assert out.result.correct is True
    wrong = closed(agreeing_round(AGREED, UNANIMOUS, **with_reference("41")))
    assert wrong.result is not None
    assert wrong.result.correct is False


def test_correct_is_absent_without_a_reference_answer() -> None:
    out = closed(agreeing_round(AGREED, UNANIMOUS, **with_reference(None)))
    assert out.result is not None
    assert out.result.correct is None


def test_the_last_allowed_round_concludes_with_max_rounds() -> None:
    out = closed(
        agreeing_round(["42", "41", "42"], CONTESTED, **with_reference("42", max_rounds=1))
    )
    assert out.result is not None
    assert (out.result.status, out.result.stop_reason) == ("completed", "max_rounds")


def test_a_round_below_quorum_concludes_degraded_with_the_only_answer() -> None:
    # two error proposals: nobody has anything to review, one ok proposal wins by default
    out = closed(agreeing_round(["42", None, None], {}, **with_reference("42")))
    result = out.result
    assert result is not None
    assert (result.status, result.stop_reason) == ("degraded", "no_quorum")
    assert result.extracted_answer == "42"
    assert result.correct is True
    assert out.summaries[0].degraded
    assert "below quorum" in result.detail


def test_a_round_without_any_ok_proposal_fails() -> None:
    out = closed(agreeing_round([None, None, None], {}, **with_reference("42")))
    result = out.result
    assert result is not None
    assert (result.status, result.stop_reason) == ("failed", "no_quorum")
    assert result.answer is None
    assert result.correct is None  # no answer: neither right nor wrong


def test_a_seat_that_timed_out_makes_the_result_degraded() -> None:
    props = [proposal(0, "42"), proposal(1, "42")]
    ballots = [
        ballot(0, {props[1].proposal_id: 80}),
        ballot(1, {props[0].proposal_id: 90}),
        absent_ballot(TASK, 1, 2, "agent2", "no proposal in time", ids.ballot(TASK, 1, 2)),
    ]
    rec = gating(
        record(the_task=task(max_rounds=1), proposals=props, ballots=ballots, timed_out=(2,))
    )
    out = closed(rec)
    result = out.result
    assert result is not None
    assert (result.status, result.stop_reason) == ("degraded", "max_rounds")
    assert "seat 2 (agent2) did not propose in time" in result.detail


def test_a_review_that_timed_out_marks_the_round_degraded() -> None:
    props = [proposal(0, "42"), proposal(1, "41"), proposal(2, "42")]
    ballots = [
        ballot(0, {props[1].proposal_id: -80, props[2].proposal_id: 70}),
        ballot(1, {props[0].proposal_id: 50, props[2].proposal_id: 60}),
        absent_ballot(TASK, 1, 2, "agent2", "review timed out", ids.ballot(TASK, 1, 2)),
    ]
    out = closed(gating(record(proposals=props, ballots=ballots)))
    summary = out.summaries[0]
    assert summary.degraded
    assert "seat 2 (agent2) did not review in time" in summary.notes


def test_a_round_that_would_overrun_the_deadline_concludes_completed() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED, deadline_at=NOW + 30)
    out = closed(rec, now=NOW + 20)  # the round took 20 s; 10 s are left
    assert out.result is not None
    assert (out.result.status, out.result.stop_reason) == ("completed", "deadline")


def test_close_round_changes_nothing_outside_the_gating_phase() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED)
    voting = msgspec.structs.replace(
        rec, current=msgspec.structs.replace(rec.current, phase="voting")
    )
    assert close_round(voting, NOW, SETTINGS) is None
    done = closed(agreeing_round(AGREED, UNANIMOUS))
    assert close_round(done, NOW, SETTINGS) is None


def test_the_result_sums_usage_per_agent_and_in_total() -> None:
    rec = agreeing_round(AGREED, UNANIMOUS)
    rec = msgspec.structs.replace(
        rec,
        usage={
            "agent0": Usage(input_tokens=100, output_tokens=10, cost_usd=0.25, calls=2),
            "agent1": Usage(input_tokens=50, output_tokens=5, cost_usd=0.5, calls=2),
        },
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    result = closed(rec).result
    assert result is not None
    assert result.total == Usage(input_tokens=150, output_tokens=15, cost_usd=0.75, calls=4)
    assert result.cost_usd == 0.75
    assert result.usage["agent1"].calls == 2
    assert result.trace_id == "0af7651916cd43dd8448eb211c80319c"


def test_the_deadline_mid_round_concludes_degraded_with_the_last_winner() -> None:
    first = closed(agreeing_round(["42", "41", "42"], CONTESTED, **with_reference("42")))
    assert first.current.phase == "proposing"
    out = conclude_at_deadline(first, NOW + 700, SETTINGS)
    assert out is not None
    assert out.result is not None
    assert (out.result.status, out.result.stop_reason) == ("degraded", "deadline")
    assert out.result.extracted_answer == "42"
    assert out.result.correct is True
    assert "deadline reached during round 2 (proposing)" in out.result.detail
    assert conclude_at_deadline(out, NOW + 800, SETTINGS) is None  # exactly one result


def test_the_deadline_before_any_winner_fails() -> None:
    rec = record(the_task=task(reference="42"), seats=team("agent0", "agent1"))
    out = conclude_at_deadline(rec, NOW + 700, SETTINGS)
    assert out is not None
    assert out.result is not None
    assert (out.result.status, out.result.stop_reason) == ("failed", "deadline")
    assert out.result.correct is None  # there was no answer to grade
    assert out.result.rounds == 0


def test_conclude_with_an_error_reason_is_degraded() -> None:
    first = closed(agreeing_round(["42", "41", "42"], CONTESTED))
    out = conclude(first, "error", "something broke", NOW + 30)
    assert out.result is not None
    assert out.result.status == "degraded"


def test_the_consensus_state_carries_no_agent_or_model_names() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED)
    winner = rec.current.proposals[0]
    boastful = msgspec.structs.replace(
        winner, model="BigModel-70B", content="As agent0 (BigModel-70B) I say \\boxed{42}"
    )
    proposals = (boastful, *rec.current.proposals[1:])
    rec = msgspec.structs.replace(
        rec, current=msgspec.structs.replace(rec.current, proposals=proposals)
    )
    out = closed(rec)
    text = " ".join(item.text for item in out.state.items)
    assert "agent0" not in text
    assert "BigModel-70B" not in text.replace("[a member]", "")
    assert "\\boxed{42}" in text
