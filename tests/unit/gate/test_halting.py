"""Halting (§5.5): the efficiency–fatigue model, W₀, and every stop in its precedence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from services.gate.halting import (
    Decision,
    FatigueModel,
    decide,
    extraction_rate,
    team_model,
)
from services.gate.lambert import lambert_w0

from ..builders import NOW, tally

PAPER = FatigueModel(p_g=0.55, p_v=0.8)  # the design's reference team, default Λ and β


def decision(
    round_number: int = 1,
    *,
    now: float = NOW,
    took: float = 10.0,
    model: FatigueModel = PAPER,
    evidence: float = 0.0,
    spend: float = 0.0,
    round_cost: float = 0.0,
    min_gain: float = 0.0,
    **fields: object,
) -> Decision:
    names = ("max_rounds", "min_rounds", "effort", "budget_usd")
    policy_fields = {k: fields.pop(k) for k in names if k in fields}
    return decide(
        round_number=round_number,
        policy=Policy(**policy_fields),
        tally=tally(**fields),
        model=model,
        evidence=evidence,
        now=now,
        deadline_at=NOW + 600,
        round_duration_s=took,
        spend_usd=spend,
        round_cost_usd=round_cost,
        min_gain=min_gain,
    )


# -- the model -------------------------------------------------------------------------


@given(st.floats(min_value=-1 / math.e, max_value=1e12, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_w0_inverts_w_times_e_to_the_w(x: float) -> None:
    w = lambert_w0(x)
    assert w >= -1.0
    assert math.isclose(w * math.exp(w), x, rel_tol=1e-9, abs_tol=1e-12)


def test_w0_is_undefined_below_minus_one_over_e() -> None:
    with pytest.raises(ValueError, match="W0 is defined"):
        lambert_w0(-0.5)


@given(
    p_g=st.floats(0.05, 0.9),
    p_v=st.floats(0.51, 1.0),
    lam=st.floats(0.5, 5.0),
    beta=st.floats(1e-4, 0.05),
)
@settings(max_examples=200, deadline=None)
def test_t_opt_from_the_closed_form_is_the_numerical_argmax_of_u(
    p_g: float, p_v: float, lam: float, beta: float
) -> None:
    model = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=beta)
    t_opt = model.t_opt()
    grid = np.linspace(0.0, max(4 * t_opt, 1.0), 40001)
    u = 1 - (1 - model.p_g) * np.exp(-model.k * grid) - model.beta * grid**2
    numeric = float(grid[int(np.argmax(u))])
    step = float(grid[1] - grid[0])
    assert abs(numeric - t_opt) <= 2 * step
    assert model.utility(t_opt) >= float(u.max()) - 1e-9


def test_the_reference_team_peaks_near_round_five_or_six() -> None:
    assert PAPER.k == pytest.approx(0.8 * (2 * 0.8 - 1))
    assert 5.0 <= PAPER.t_opt() <= 6.0
    assert PAPER.signal() == pytest.approx(PAPER.utility(PAPER.t_opt()) - PAPER.p_g)


def test_evidence_gain_is_conviction_times_the_utility_step() -> None:
    step = PAPER.utility(2) - PAPER.utility(1)
    assert PAPER.gain(2, 0.5) == pytest.approx(0.5 * step)
    assert PAPER.gain(2, -0.3) == 0.0
    assert PAPER.gain(0, 1.0) == 0.0


@given(p_g=st.floats(0.0, 1.0), p_v=st.floats(0.0, 1.0), lam=st.floats(1e-3, 50.0))
@settings(max_examples=200, deadline=None)
def test_k_is_lambda_times_how_far_reviews_are_from_chance(
    p_g: float, p_v: float, lam: float
) -> None:
    model = FatigueModel(p_g=p_g, p_v=p_v, lam=lam)
    assert model.k == extraction_rate(lam, p_v) == pytest.approx(lam * (2 * p_v - 1))
    # p_g sets where U starts, not how fast reviews lift it
    assert model.k == FatigueModel(p_g=1.0 - p_g, p_v=p_v, lam=lam).k
    assert (model.k > 0) == (p_v > 0.5)


@pytest.mark.parametrize("p_v", [0.5, 0.45, 0.0])
def test_when_reviews_are_at_or_below_chance_no_round_is_worth_it(p_v: float) -> None:
    flat = FatigueModel(p_g=0.3, p_v=p_v)
    assert flat.k <= 0
    assert flat.t_opt() == 0.0
    assert flat.signal() == 0.0


def test_verification_weaker_than_generation_still_extracts_when_above_chance() -> None:
    # the old rule k = Λ·(p_v − p_g) stopped this team at once; its reviews do carry signal
    model = FatigueModel(p_g=0.7, p_v=0.6)
    assert model.k > 0
    assert model.t_opt() > 0.0


def test_the_team_model_averages_its_members() -> None:
    model = team_model([(0.5, 0.7), (0.7, 0.9)], lam=2.0, beta=0.001)
    assert (model.p_g, model.p_v) == pytest.approx((0.6, 0.8))
    assert team_model([], 2.0, 0.001).k == pytest.approx(2.0 * (2 * 0.6 - 1))


# -- the decision ----------------------------------------------------------------------


def test_gate_continues_a_healthy_round_with_time_left() -> None:
    d = decision(1)
    assert not d.stop
    assert d.reason is None


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


def test_gate_stops_when_evidence_reaches_effort_times_the_signal() -> None:
    target = 0.6 * PAPER.signal()
    assert not decision(2, evidence=target * 0.99).stop
    d = decision(2, evidence=target)
    assert (d.stop, d.reason) == (True, "evidence")


def test_evidence_does_not_stop_before_min_rounds() -> None:
    assert not decision(1, min_rounds=2, evidence=1.0).stop


def test_lower_effort_stops_on_less_evidence() -> None:
    assert decision(1, effort=0.2, evidence=0.3 * PAPER.signal()).reason == "evidence"


def test_gate_stops_for_fatigue_once_past_the_peak() -> None:
    peak = math.ceil(PAPER.t_opt())
    assert not decision(peak - 1, max_rounds=20).stop
    d = decision(peak, max_rounds=20)
    assert (d.stop, d.reason) == (True, "fatigue")


def test_a_team_whose_reviews_carry_no_signal_stops_after_min_rounds() -> None:
    flat = FatigueModel(p_g=0.3, p_v=0.5)
    assert not decision(1, min_rounds=2, model=flat).stop
    d = decision(2, min_rounds=2, model=flat)
    assert (d.stop, d.reason) == (True, "fatigue")
    assert d.note == "reviews carry no signal: p_v (0.50) ≤ 0.5 (chance)"


def test_gate_stops_before_a_round_the_budget_cannot_pay_for() -> None:
    assert not decision(1, budget_usd=0.01, spend=0.004, round_cost=0.004).stop
    d = decision(1, budget_usd=0.01, spend=0.007, round_cost=0.004)
    assert (d.stop, d.reason) == (True, "budget")


def test_gate_stops_when_another_round_would_end_past_the_deadline() -> None:
    d = decision(1, now=NOW + 580, took=30.0)
    assert (d.stop, d.reason) == (True, "deadline")


def test_a_round_that_ends_exactly_at_the_deadline_still_runs() -> None:
    assert not decision(1, now=NOW + 570, took=30.0).stop


def test_convergence_outranks_the_deadline() -> None:
    assert decision(1, now=NOW + 599, took=30.0, unanimous=True).reason == "converged"


def test_reviews_barely_above_chance_stop_after_min_rounds_instead_of_every_round() -> None:
    weak = FatigueModel(p_g=0.55, p_v=0.52)
    assert weak.k > 0
    d = decision(1, max_rounds=6, model=weak, min_gain=0.02)
    assert (d.stop, d.reason) == (True, "efficiency")
    assert "expected to add" in d.note
    assert not decision(1, max_rounds=6, model=PAPER, min_gain=0.02).stop  # signal: go on


@given(
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.5, max_value=1.0),
    st.integers(min_value=1, max_value=30),
)
@settings(max_examples=300, deadline=None)
def test_the_efficiency_stop_fires_exactly_when_the_next_rounds_gain_is_below_min_gain(
    p_g: float, p_v: float, round_number: int
) -> None:
    model = FatigueModel(p_g=p_g, p_v=p_v, beta=0.0)  # no peak
    d = decision(round_number, max_rounds=50, model=model, min_gain=0.02, evidence=-1.0)
    if model.k <= 0 or p_g >= 1.0:  # nothing to extract: T_opt = 0, the fatigue stop
        assert (d.stop, d.reason) == (True, "fatigue")
        return
    gain = model.utility(round_number + 1) - model.utility(round_number)
    assert d.stop == (gain < 0.02)
    if d.stop:
        assert d.reason == "efficiency"
