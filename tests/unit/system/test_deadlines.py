"""Deadlines that fit the hardware: phase timeouts and the task deadline from measured
latency, and a deadline that cuts a round short still answering with what it has."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.record import DeliberationRecord
from schemas.task import Policy
from services.agent_runner.latency import MIN_CALLS, SPREAD, Latency
from services.broker.timing import phase_timeout, phases, task_deadline
from services.gate.early import conclude_at_deadline
from services.gate.settings import GateSettings
from services.reviewer.phases import open_review

from ..builders import NOW, ballot, card, proposal, record, task

replace = msgspec.structs.replace


def test_without_calls_the_card_reports_the_declared_latency() -> None:
    assert Latency((5.0, 30.0)).estimate() == (5.0, 30.0)


def test_a_probe_alone_stretches_to_the_long_calls_it_cannot_see() -> None:
    latency = Latency((0.1, 0.5))
    latency.observe(8.0)  # one proposal-sized call on slow hardware
    assert latency.estimate() == (8.0, SPREAD * 8.0)


@given(st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=MIN_CALLS, max_size=200))
def test_with_enough_calls_the_card_reports_their_median_and_95th_percentile(
    calls: list[float],
) -> None:
    latency = Latency((1.0, 2.0))
    for seconds in calls:
        latency.observe(seconds)
    median, p95 = latency.estimate()
    window = sorted(calls[-64:])
    assert window[0] <= median <= p95 <= window[-1]
    assert sum(c <= p95 for c in window) >= 0.95 * len(window)


def test_the_phase_timeout_follows_the_slowest_members_latency() -> None:
    slow = [card("a", latency_p95_s=20.0), card("b", latency_p95_s=2.0)]
    assert phase_timeout(Policy(), slow, minimum=15.0, factor=4.0) == 80.0
    assert phase_timeout(Policy(phase_timeout_s=9.0), slow, minimum=15.0, factor=4.0) == 9.0
    assert phase_timeout(Policy(deadline_s=50.0), slow, minimum=15.0, factor=4.0) == 50.0


@pytest.mark.parametrize(
    ("protocol", "max_rounds", "expected"),
    [("nsed", 6, 12), ("vote", 6, 1), ("debate", 3, 3), ("moa", 2, 3)],
)
def test_a_task_may_run_every_phase_of_its_protocol(
    protocol: str, max_rounds: int, expected: int
) -> None:
    policy = Policy(protocol=protocol, max_rounds=max_rounds)  # type: ignore[arg-type]
    assert phases(policy) == expected
    assert task_deadline(policy, 80.0) == (expected + 1) * 80.0
    assert task_deadline(Policy(deadline_s=30.0), 80.0) == 30.0


def _reviewing(ballots: int) -> DeliberationRecord:
    """Round 1 in review, answers 41, 42, 42; the first ``ballots`` reviewers back 41."""
    props = [proposal(0, "41"), proposal(1, "42"), proposal(2, "42")]
    rec = open_review(record(the_task=task(reference="42"), proposals=props), NOW)
    votes = tuple(
        ballot(
            seat,
            {
                p.proposal_id: 90.0 if p.extracted_answer == "41" else -60.0
                for p in props
                if p.seat != seat
            },
        )
        for seat in range(ballots)
    )
    return replace(rec, current=replace(rec.current, ballots=votes))


def test_a_deadline_before_any_tally_answers_with_the_most_common_proposal() -> None:
    rec = open_review(record(the_task=task(reference="42"),
                             proposals=[proposal(0, "41"), proposal(1, "42"), proposal(2, "42")]),
                      NOW)  # fmt: skip
    out = conclude_at_deadline(rec, NOW + 700, GateSettings())
    assert out is not None
    result = out.result
    assert result is not None
    assert (result.status, result.stop_reason) == ("degraded", "deadline")
    assert result.extracted_answer == "42"
    assert result.correct is True
    assert "most common answer of 3 proposal(s)" in result.detail


def test_a_deadline_mid_review_answers_by_the_ballots_already_in() -> None:
    out = conclude_at_deadline(_reviewing(2), NOW + 700, GateSettings())
    assert out is not None
    assert out.result is not None
    assert out.result.extracted_answer == "41"
    assert "by the 2 ballot(s) in" in out.result.detail
