"""The efficiency–fatigue fit (§5.5): β free, recovered from curves of known (Λ, β), and
an honest "cannot tell" when the data do not identify it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.bench.fit import MIN_UNSATURATED, Fit, _base, fit
from services.gate.halting import FatigueModel

ROUNDS = list(range(1, 9))
NOISE = 0.002  # a few tasks in a thousand: small next to the curves' rise


def curve(
    lam: float, beta: float, p_g: float, p_v: float, rounds: list[int], noise: float, seed: int
) -> list[float]:
    """Accuracy by round from the gate's own U with (Λ, β), plus seeded Gaussian noise."""
    model = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=0.0)  # β ≥ 0 only: add it below
    rng = np.random.default_rng(seed)
    return [model.utility(t) - beta * t * t + float(rng.normal(0.0, noise)) for t in rounds]


def printable(fitted: Fit) -> str:
    """What the bench prints must be JSON without NaN or ∞."""
    return json.dumps(fitted.as_json(), allow_nan=False)


@given(
    lam=st.floats(0.3, 1.5),
    beta=st.just(0.0) | st.floats(-0.003, 0.006),
    p_g=st.floats(0.3, 0.6),
    p_v=st.floats(0.6, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=150, deadline=None)
def test_a_curve_of_known_lambda_and_beta_is_recovered_with_beta_free(
    lam: float, beta: float, p_g: float, p_v: float, seed: int
) -> None:
    acc = curve(lam, beta, p_g, p_v, ROUNDS, NOISE, seed)
    assume(min(acc) > 0.0)
    assume(max(acc) < 0.99)  # no round at a bound of accuracy
    fitted = fit(ROUNDS, acc, p_g, p_v)
    print(f"seed {seed}: {fitted}")
    assert fitted.lam == pytest.approx(lam, rel=0.15)
    assert fitted.beta == pytest.approx(beta, abs=5e-4)
    assert fitted.beta_se is not None
    if abs(beta) >= 2e-3:  # far beyond the noise: the data identify it, sign included
        assert fitted.beta_identified, fitted.note
        assert math.copysign(1.0, fitted.beta) == math.copysign(1.0, beta)
    if fitted.beta_identified:
        assert fitted.note == ""
    printable(fitted)


def test_a_negative_beta_is_reported_negative_not_clamped() -> None:
    acc = curve(0.3, -0.0015, 0.4, 0.8, ROUNDS, NOISE, seed=7)
    assert max(acc) < 1.0
    fitted = fit(ROUNDS, acc, 0.4, 0.8)
    assert fitted.beta == pytest.approx(-0.0015, abs=2e-4)
    assert fitted.beta_identified
    assert fitted.t_opt is None  # no peak: the gate never stops it for fatigue
    assert json.loads(printable(fitted))["t_opt"] is None


def test_a_positive_beta_gives_the_peak_the_gate_would_compute() -> None:
    acc = curve(0.8, 0.004, 0.45, 0.8, ROUNDS, NOISE, seed=8)
    fitted = fit(ROUNDS, acc, 0.45, 0.8)
    assert fitted.beta_identified
    gate = FatigueModel(p_g=0.45, p_v=0.8, lam=fitted.lam, beta=fitted.beta).t_opt()
    assert fitted.t_opt == pytest.approx(gate)
    true_peak = FatigueModel(p_g=0.45, p_v=0.8, lam=0.8, beta=0.004).t_opt()
    assert fitted.t_opt == pytest.approx(true_peak, abs=0.5)


def test_a_curve_saturated_after_round_two_does_not_identify_beta() -> None:
    # the study's own curve: only rounds 1 and 2 are below the ceiling
    fitted = fit([1, 2, 3, 4, 5, 6], [0.94, 0.99, 1.0, 1.0, 1.0, 1.0], 0.588, 0.773)
    assert not fitted.beta_identified
    assert fitted.unsaturated == 2 < MIN_UNSATURATED
    assert "only 2 of 6 rounds lie strictly between accuracy 0 and 1" in fitted.note
    assert json.loads(printable(fitted))["beta_identified"] is False


@given(
    lam=st.floats(3.0, 20.0),
    beta=st.floats(0.0, 0.002),
    p_g=st.floats(0.3, 0.8),
    p_v=st.floats(0.7, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40, deadline=None)
def test_any_curve_at_the_ceiling_from_round_three_on_reports_beta_unidentified(
    lam: float, beta: float, p_g: float, p_v: float, seed: int
) -> None:
    rising = curve(lam, beta, p_g, p_v, [1, 2], NOISE, seed)
    acc = [min(max(a, 0.01), 0.999) for a in rising] + [1.0] * 4
    fitted = fit(range(1, 7), acc, p_g, p_v)
    assert not fitted.beta_identified
    assert fitted.note
    printable(fitted)


def test_two_rounds_leave_no_residual_to_judge_beta_by() -> None:
    fitted = fit([1, 2], [0.6, 0.7], 0.5, 0.8)
    assert not fitted.beta_identified
    assert fitted.beta_se is None
    assert "no residual" in fitted.note


def test_beta_collinear_with_the_lambda_curve_is_not_identified() -> None:
    # Three late rounds of a slow extraction: over so narrow a span, a slower Λ and a
    # larger β bend U the same way, even on a noise-free curve the fit matches exactly.
    rounds = [30, 31, 32]
    fitted = fit(rounds, curve(0.01, 1e-4, 0.3, 0.8, rounds, 0.0, seed=0), 0.3, 0.8)
    assert fitted.rmse < 1e-9
    assert not fitted.beta_identified
    assert fitted.beta_se is None
    assert "the β column is collinear with the Λ curve" in fitted.note
    printable(fitted)


@pytest.mark.parametrize("p_v", [0.5, 0.45, 0.0])
def test_with_reviews_at_or_below_chance_beta_is_not_identified(p_v: float) -> None:
    acc = [0.7 - 0.004 * t * t for t in ROUNDS]
    fitted = fit(ROUNDS, acc, 0.7, p_v)
    assert not fitted.beta_identified
    assert f"p_v = {p_v:.3f} ≤ 0.5: reviews carry no signal" in fitted.note
    assert fitted.t_opt == 0.0  # the gate stops such a team at min_rounds
    printable(fitted)


@given(n=st.integers(2, 12), level=st.floats(0.0, 1.0), p_g=st.floats(0, 1), p_v=st.floats(0, 1))
@settings(max_examples=100, deadline=None)
def test_a_constant_accuracy_of_any_length_fits_without_raising_and_r2_is_none(
    n: int, level: float, p_g: float, p_v: float
) -> None:
    fitted = fit(range(1, n + 1), [level] * n, p_g, p_v)
    assert fitted.r2 is None
    assert math.isfinite(fitted.lam)
    assert math.isfinite(fitted.beta)
    printable(fitted)


@given(
    acc=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12),
    p_g=st.floats(0, 1),
    p_v=st.floats(0, 1),
    start=st.integers(0, 50),
)
@settings(max_examples=150, deadline=None)
def test_any_accuracies_fit_without_raising_into_printable_numbers(
    acc: list[float], p_g: float, p_v: float, start: int
) -> None:
    fitted = fit(range(start, start + len(acc)), acc, p_g, p_v)
    assert 1e-3 <= fitted.lam <= 50.0
    assert fitted.rmse >= 0.0
    assert fitted.beta_identified or fitted.note  # a β not identified always says why
    printable(fitted)


def test_inputs_that_are_not_accuracies_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        fit([1], [0.5], 0.5, 0.8)
    with pytest.raises(ValueError, match="as many"):
        fit([1, 2, 3], [0.5, 0.6], 0.5, 0.8)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        fit([1, 2, 3], [0.5, math.nan, 0.7], 0.5, 0.8)


@given(
    lam=st.floats(1e-3, 50.0),
    beta=st.floats(-0.01, 0.01),
    p_g=st.floats(0.0, 1.0),
    p_v=st.floats(0.0, 1.0),
    t=st.integers(0, 30),
)
@settings(max_examples=300, deadline=None)
def test_the_fitted_curve_is_the_gates_utility(
    lam: float, beta: float, p_g: float, p_v: float, t: int
) -> None:
    gate = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=max(beta, 0.0)).utility(t)
    assume(abs(gate) < 1e5)
    base = _base(np.array([lam]), np.array([float(t)]), p_g, p_v)[0, 0]
    assert base - max(beta, 0.0) * t * t == pytest.approx(gate, rel=1e-12, abs=1e-12)


def test_a_curve_the_model_does_not_describe_identifies_no_beta() -> None:
    # measured by `nsed bench quality --tasks 200` (2026-11-26): noisy, no clear shape
    fitted = fit([1, 2, 3, 4, 5, 6], [0.75, 0.73, 0.80, 0.795, 0.765, 0.73], 0.5367, 0.7733)
    assert fitted.r2 is not None
    assert fitted.r2 < 0.5
    assert not fitted.beta_identified
    assert "R²" in fitted.note
