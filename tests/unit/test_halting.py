"""Halting: no_quorum, max_rounds, converged (only from min_rounds on), deadline, continue."""

from __future__ import annotations

import pytest

from schemas.task import Policy
from services.gate.halting import Decision, decide

from .builders import NOW, tally


def decision(
    round_number: int = 1, *, now: float = NOW, took: float = 10.0, **fields: object
) -> Decision:
    policy_fields = {k: fields.pop(k) for k in ("max_rounds", "min_rounds") if k in fields}
    return decide(
        round_number=round_number,
        policy=Policy(**policy_fields),
        tally=tally(**fields),
        now=now,
        deadline_at=NOW + 600,
        round_duration_s=took,
    )


def test_gate_continues_a_healthy_round_with_time_left() -> None:
    assert decision(1) == Decision(False, None, "continue")


def test_gate_stops_when_the_round_fell_below_quorum() -> None:
    d = decision(1, quorum_met=False, ok_proposals=1, valid_ballots=0)
    assert (d.stop, d.reason) == (True, "no_quorum")
    assert "1 ok proposal(s) and 0 valid ballot(s)" in d.note


def test_no_quorum_outranks_every_other_stop() -> None:
    d = decision(6, max_rounds=6, quorum_met=False, unanimous=True, now=NOW + 599)
    assert d.reason == "no_quorum"


def test_gate_stops_at_max_rounds() -> None:
    d = decision(4, max_rounds=4)
    assert (d.stop, d.reason, d.note) == (True, "max_rounds", "round 4 of 4")


def test_max_rounds_outranks_convergence() -> None:
    assert decision(2, max_rounds=2, unanimous=True).reason == "max_rounds"


def test_gate_stops_when_ballots_are_unanimous() -> None:
    d = decision(1, unanimous=True)
    assert (d.stop, d.reason) == (True, "converged")


@pytest.mark.parametrize("round_number", [1, 2])
def test_unanimity_before_min_rounds_does_not_stop(round_number: int) -> None:
    d = decision(round_number, min_rounds=3, unanimous=True)
    assert not d.stop


def test_unanimity_from_min_rounds_on_converges() -> None:
    assert decision(3, min_rounds=3, unanimous=True).reason == "converged"
    assert decision(4, min_rounds=3, unanimous=True).reason == "converged"


def test_gate_stops_when_another_round_would_end_past_the_deadline() -> None:
    d = decision(1, now=NOW + 580, took=30.0)
    assert (d.stop, d.reason) == (True, "deadline")


def test_a_round_that_ends_exactly_at_the_deadline_still_runs() -> None:
    assert not decision(1, now=NOW + 570, took=30.0).stop


def test_convergence_outranks_the_deadline() -> None:
    assert decision(1, now=NOW + 599, took=30.0, unanimous=True).reason == "converged"
