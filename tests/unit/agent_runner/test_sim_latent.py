"""The latent model of the simulated agent (§6.2): ability calibrated to p_g, review score
gaps calibrated to p_v, fatigue that only ever takes precision away, and moves that cannot
see the truth. Exact properties here; the Monte-Carlo checks are in test_sim_model."""

from __future__ import annotations

import inspect
import math
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.agent_runner.backends.sim_latent import (
    DIFFICULTY_SD,
    ability,
    adopt_probability,
    confidence,
    decide_move,
    difficulty,
    mean_accuracy,
    p_right,
    p_v_at,
    score_gap,
)
from services.agent_runner.config import SimConfig

inner = st.floats(0.001, 0.999)
unit = st.floats(0.0, 1.0, exclude_max=True)
prob = st.floats(0.0, 1.0)


@given(inner)
def test_ability_is_solved_so_mean_accuracy_over_difficulty_is_p_g(p_g: float) -> None:
    assert mean_accuracy(ability(p_g)) == pytest.approx(p_g, abs=1e-9)


@given(inner, inner)
def test_a_higher_p_g_means_a_higher_ability(p: float, q: float) -> None:
    if p < q:
        assert ability(p) < ability(q)


def test_always_wrong_and_always_right_agents_stay_so_on_every_task() -> None:
    never, always = SimConfig(p_g=0.0, fatigue_g=0.5), SimConfig(p_g=1.0, fatigue_g=0.5)
    for i in range(200):
        for r in (1, 2, 9):
            assert p_right(never, "math", f"t{i}", r) == 0.0
            assert p_right(always, "math", f"t{i}", r) == 1.0


def test_the_quadrature_agrees_with_the_normal_integral() -> None:
    # E[σ(a − d)] by a fine midpoint rule on d itself, independent of the quadrature nodes
    a, h = 0.7, 0.001
    grid = [-12 * DIFFICULTY_SD + h * (i + 0.5) for i in range(int(24 * DIFFICULTY_SD / h))]
    density = NormalDist(0.0, DIFFICULTY_SD).pdf
    exact = sum(density(d) / (1 + math.exp(d - a)) for d in grid) * h
    assert mean_accuracy(a) == pytest.approx(exact, abs=1e-4)


def test_difficulty_belongs_to_the_task_not_to_the_agent() -> None:
    one = SimConfig(p_g=0.6, seed=1)
    other = SimConfig(p_g=0.6, seed=99)
    for i in range(50):
        task = f"shared-{i}"
        assert confidence(one, "math", task) == confidence(other, "math", task)
    spread = {round(difficulty(f"shared-{i}"), 6) for i in range(50)}
    assert len(spread) == 50  # tasks differ from one another


@given(st.floats(0.0, 1.0))
def test_the_score_gap_makes_a_review_order_right_above_wrong_with_probability_p_v(
    p_v: float,
) -> None:
    # s_right − s_wrong ~ Normal(μ, √2), so P(> 0) = Φ(μ/√2)
    ordered = NormalDist().cdf(score_gap(p_v) / math.sqrt(2.0))
    assert ordered == pytest.approx(min(max(p_v, 1e-6), 1 - 1e-6), abs=1e-9)


def test_p_v_one_half_is_chance_and_below_one_half_leans_wrong() -> None:
    assert score_gap(0.5) == 0.0
    assert score_gap(0.3) < 0.0 < score_gap(0.7)


@settings(max_examples=200)
@given(prob, st.floats(0.0, 1.0), st.integers(1, 20), st.integers(1, 20))
def test_verification_fatigue_shrinks_the_edge_over_chance_and_never_crosses_it(
    p_v: float, fatigue: float, r1: int, r2: int
) -> None:
    params = SimConfig(p_v=p_v, fatigue_v=fatigue)
    early, late = sorted((r1, r2))
    e1, e2 = p_v_at(params, "math", early) - 0.5, p_v_at(params, "math", late) - 0.5
    assert p_v_at(params, "math", 1) == pytest.approx(p_v)
    assert abs(e2) <= abs(e1) + 1e-12
    assert e1 * e2 >= 0.0  # a reviewer never turns from helpful to misleading


@settings(max_examples=200)
@given(inner, st.floats(0.0, 1.0), st.integers(1, 20), st.integers(1, 20), st.text(max_size=8))
def test_generation_fatigue_only_lowers_the_chance_of_a_right_answer(
    p_g: float, fatigue: float, r1: int, r2: int, task: str
) -> None:
    params = SimConfig(p_g=p_g, fatigue_g=fatigue)
    early, late = sorted((r1, r2))
    assert p_right(params, "math", task, late) <= p_right(params, "math", task, early)
    assert p_right(params, "math", task, 1) == confidence(params, "math", task)


def test_a_move_is_decided_without_any_answer_or_truth() -> None:
    parameters = set(inspect.signature(decide_move).parameters)
    assert parameters == {
        "u_adopt", "u_keep", "confidence", "support", "sycophancy", "has_winner", "has_own"
    }  # fmt: skip


@given(unit, unit, prob, prob, prob, st.booleans(), st.booleans())
def test_moves_follow_their_probabilities_and_need_something_to_act_on(
    u_adopt: float, u_keep: float, c: float, w: float, s: float, winner: bool, own: bool
) -> None:
    move = decide_move(
        u_adopt, u_keep, confidence=c, support=w, sycophancy=s, has_winner=winner, has_own=own
    )
    pull = adopt_probability(c, w, s)
    assert s <= pull <= 1.0
    if move == "adopt":
        assert winner
        assert u_adopt < pull
    elif move == "keep":
        assert own
        assert u_keep < c
        assert not (winner and u_adopt < pull)
    else:
        assert not (winner and u_adopt < pull)
        assert not (own and u_keep < c)


@given(prob, prob, st.floats(0.0, 1.0))
def test_support_pulls_towards_the_winner_more_the_less_sure_the_agent_is(
    c: float, s: float, w: float
) -> None:
    assert adopt_probability(c, 0.0, s) == pytest.approx(s)  # no support: sycophancy only
    assert adopt_probability(c, w, s) >= adopt_probability(c, 0.0, s)
    assert adopt_probability(min(c, 0.5), w, s) >= adopt_probability(max(c, 0.5), w, s)
    assert adopt_probability(c, 2.0, s) == adopt_probability(c, 1.0, s)  # clamped to [0, 1]
