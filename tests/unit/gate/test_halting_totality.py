"""Halting is total (§5.5): β = 0 is a model without fatigue, and no float that can reach
the gate (a bad card, corrupt stats, an unvalidated setting) makes it raise or write a
number JSON cannot carry."""

from __future__ import annotations

import itertools
import math
import sys

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.record import DeliberationRecord
from schemas.task import Policy
from services.gate.halting import Decision, FatigueModel, decide, team_model
from services.gate.lambert import lambert_w0
from services.gate.rounds import close_round
from services.gate.settings import GateSettings
from tests.unit.gate.test_halting import decision

from ..builders import NOW, agreeing_round, tally, task

NO_FATIGUE = FatigueModel(p_g=0.55, p_v=0.8, beta=0.0)
# seat 0 wins; reviewer 1 tops seat 2, so the round is neither unanimous nor convincing
CONTESTED = {0: {1: -50, 2: 50}, 1: {0: 40, 2: 60}, 2: {0: 90, 1: -10}}
ANY_FLOAT = st.floats()  # NaN, ±inf, subnormals and the extremes included
ANY_ROUND = st.one_of(st.integers(), st.integers(2**1000, 2**1100))


# -- β = 0: no context fatigue ----------------------------------------------------------


def test_without_fatigue_the_gate_decides_and_never_stops_for_fatigue() -> None:
    for r in range(1, 20):
        d = decision(r, max_rounds=20, model=NO_FATIGUE)
        assert isinstance(d, Decision)
        assert d.reason != "fatigue"
    assert not decision(19, max_rounds=20, model=NO_FATIGUE).stop


def test_without_fatigue_t_opt_is_infinite_and_the_signal_is_all_there_is() -> None:
    assert NO_FATIGUE.t_opt() == math.inf
    assert NO_FATIGUE.signal() == pytest.approx(1 - 0.55)


def test_the_signal_without_fatigue_is_the_limit_of_a_vanishing_fatigue() -> None:
    betas = (1e-3, 1e-6, 1e-9, 1e-12, 1e-15)
    gaps = [NO_FATIGUE.signal() - FatigueModel(p_g=0.55, p_v=0.8, beta=b).signal() for b in betas]
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert 0.0 <= gaps[-1] < 1e-9


def test_without_fatigue_the_evidence_stop_still_works() -> None:
    target = 0.6 * NO_FATIGUE.signal()
    assert decision(2, model=NO_FATIGUE, evidence=target).reason == "evidence"


def test_a_round_closed_without_fatigue_continues_and_its_record_survives_json() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED)
    out = close_round(rec, NOW + 20, GateSettings(fatigue_beta=0.0))
    assert out is not None
    assert out.result is None
    assert out.current.number == 2
    encoded = msgspec.json.encode(out)
    assert msgspec.json.decode(encoded, type=DeliberationRecord) == out


def test_a_result_without_fatigue_says_t_opt_is_none_and_survives_json() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED, the_task=task(max_rounds=1))
    out = close_round(rec, NOW + 20, GateSettings(fatigue_beta=0.0))
    assert out is not None
    assert out.result is not None
    assert out.result.halting is not None
    assert out.result.halting.t_opt is None
    assert out.result.halting.signal == pytest.approx(1 - out.result.halting.p_g)
    decoded = msgspec.json.decode(msgspec.json.encode(out), type=DeliberationRecord)
    assert decoded.result == out.result


# -- what an unusable input means ---------------------------------------------------------


def test_an_unknown_precision_counts_as_the_neutral_prior() -> None:
    assert team_model([(math.nan, math.nan)], 2.0, 0.001) == team_model([], 2.0, 0.001)
    model = team_model([(math.nan, 0.9), (0.5, math.nan)], 2.0, 0.001)
    assert (model.p_g, model.p_v) == pytest.approx((0.5, 0.75))


def test_precisions_outside_zero_one_are_clamped() -> None:
    model = FatigueModel(p_g=-3.0, p_v=7.0, lam=math.inf, beta=-1.0)
    assert (model.p_g, model.p_v, model.beta) == (0.0, 1.0, 0.0)
    assert model.lam == sys.float_info.max


def test_a_negative_lambda_extracts_nothing_and_stops_at_min_rounds() -> None:
    flat = FatigueModel(p_g=0.55, p_v=0.8, lam=-2.0)
    d = decision(2, min_rounds=2, model=flat)
    assert (d.stop, d.reason, d.note) == (True, "fatigue", "Λ = 0: verification extracts nothing")


def test_an_unknown_evidence_or_conviction_is_no_evidence() -> None:
    assert not decision(2, evidence=math.nan).stop
    assert not decision(2, evidence=math.inf).stop
    assert NO_FATIGUE.gain(1, math.nan) == 0.0


def test_an_unknown_clock_or_budget_does_not_stop_by_accident() -> None:
    assert not decision(1, now=math.nan).stop
    assert not decision(1, took=math.nan).stop
    assert not decision(1, budget_usd=math.nan, spend=1.0, round_cost=1.0).stop
    assert not decision(1, budget_usd=0.01, spend=math.nan, round_cost=math.nan).stop


def test_a_round_of_unbounded_length_ends_past_the_deadline() -> None:
    assert decision(1, took=math.inf).reason == "deadline"


def test_a_huge_round_past_the_peak_costs_at_most_one_unit_of_evidence() -> None:
    shrinking = FatigueModel(p_g=0.8, p_v=0.1)  # k < 0: e^(−k·t) overflows
    assert shrinking.utility(10**6) == -math.inf
    assert shrinking.gain(10**6, 1.0) == -1.0
    assert FatigueModel(p_g=0.55, p_v=0.8).gain(2**1100, 1.0) == -1.0


def test_w0_is_finite_up_to_the_largest_float_and_infinite_at_infinity() -> None:
    top = sys.float_info.max
    w = lambert_w0(top)
    assert math.isclose(w + math.log(w), math.log(top), rel_tol=1e-14)
    assert lambert_w0(math.inf) == math.inf


# -- properties ---------------------------------------------------------------------------


@given(
    round_number=ANY_ROUND,
    rounds=st.tuples(st.integers(), st.integers()).map(sorted),
    effort=ANY_FLOAT,
    budget=st.none() | ANY_FLOAT,
    conviction=ANY_FLOAT,
    quorum_met=st.booleans(),
    unanimous=st.booleans(),
    p_g=ANY_FLOAT,
    p_v=ANY_FLOAT,
    lam=ANY_FLOAT,
    beta=ANY_FLOAT,
    evidence=ANY_FLOAT,
    now=ANY_FLOAT,
    deadline_at=ANY_FLOAT,
    took=ANY_FLOAT,
    spend=ANY_FLOAT,
    round_cost=ANY_FLOAT,
)
@settings(max_examples=1000, deadline=None)
def test_decide_returns_a_decision_for_any_floats(
    round_number: int,
    rounds: list[int],
    effort: float,
    budget: float | None,
    conviction: float,
    quorum_met: bool,
    unanimous: bool,
    p_g: float,
    p_v: float,
    lam: float,
    beta: float,
    evidence: float,
    now: float,
    deadline_at: float,
    took: float,
    spend: float,
    round_cost: float,
) -> None:
    min_rounds, max_rounds = rounds
    policy = Policy(min_rounds=min_rounds, max_rounds=max_rounds, effort=effort, budget_usd=budget)
    model = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=beta)
    d = decide(
        round_number=round_number,
        policy=policy,
        tally=tally(conviction=conviction, quorum_met=quorum_met, unanimous=unanimous),
        model=model,
        evidence=evidence + model.gain(round_number, conviction),
        now=now,
        deadline_at=deadline_at,
        round_duration_s=took,
        spend_usd=spend,
        round_cost_usd=round_cost,
    )
    assert isinstance(d, Decision)
    assert d.stop == (d.reason is not None)


@given(p_g=ANY_FLOAT, p_v=ANY_FLOAT, lam=ANY_FLOAT, beta=ANY_FLOAT)
@settings(max_examples=500, deadline=None)
def test_a_model_from_any_floats_only_holds_what_the_record_can_carry(
    p_g: float, p_v: float, lam: float, beta: float
) -> None:
    model = team_model([(p_g, p_v)], lam, beta)
    assert 0.0 <= model.p_g <= 1.0
    assert 0.0 <= model.p_v <= 1.0
    assert all(math.isfinite(v) for v in (model.lam, model.beta, model.k, model.signal()))
    assert 0.0 <= model.signal() <= 1.0 - model.p_g
    t_opt = model.t_opt()
    assert t_opt >= 0.0  # NaN fails this too
    assert math.isinf(t_opt) == (model.beta == 0.0 and model.k > 0.0 and model.p_g < 1.0)


@given(
    p_g=ANY_FLOAT,
    p_v=ANY_FLOAT,
    beta=ANY_FLOAT,
    round_number=ANY_ROUND,
    conviction=ANY_FLOAT,
)
@settings(max_examples=500, deadline=None)
def test_a_rounds_evidence_is_finite_and_at_most_one_unit(
    p_g: float, p_v: float, beta: float, round_number: int, conviction: float
) -> None:
    model = FatigueModel(p_g=p_g, p_v=p_v, beta=beta)
    assert -1.0 <= model.gain(round_number, conviction) <= 1.0
    assert not math.isnan(model.utility(round_number))


@given(
    p_g=st.floats(0.01, 0.95),
    p_v=st.floats(0.505, 1.0),
    lam=st.floats(0.1, 10.0),
    beta=st.floats(1e-300, 10.0),
)
@settings(max_examples=300, deadline=None)
def test_u_is_flat_at_t_opt_for_any_positive_fatigue(
    p_g: float, p_v: float, lam: float, beta: float
) -> None:
    """U′(T) = (1 − p_g)·k·e^(−k·T) − 2β·T vanishes at T_opt, tiny β included (W₀ on ln x)."""
    model = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=beta)
    t = model.t_opt()
    assert 0.0 < t < math.inf
    rising = (1 - model.p_g) * model.k * math.exp(-model.k * t)
    assert math.isclose(rising, 2 * model.beta * t, rel_tol=1e-9)
