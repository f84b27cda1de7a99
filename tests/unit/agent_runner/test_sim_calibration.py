"""Monte-Carlo calibration of the simulated agent (§6.2): round-1 accuracy is p_g, a
review orders a right above a wrong candidate with probability p_v, task difficulty is
shared, and fatigue lowers both precisions in late rounds. Seeds and task ids are fixed
and printed; tolerances are at least 3.5 binomial standard deviations."""

from __future__ import annotations

import statistics

import pytest

from services.agent_runner.backends.sim_latent import p_v_at
from services.agent_runner.config import SimConfig

from ..simulated import ordered_rate, propose, review, right

# -- (1) round-1 accuracy is p_g -------------------------------------------------------


@pytest.mark.parametrize("p_g", [0.2, 0.55, 0.9])
def test_round_one_accuracy_over_many_tasks_is_close_to_p_g(p_g: float) -> None:
    params = SimConfig(p_g=p_g, seed=3, reasoning_tokens=0)
    tasks = [f"acc-{i}" for i in range(3000)]
    rate = sum(right(propose(params, task_id=t), t) for t in tasks) / len(tasks)
    print(f"seed=3 tasks=acc-0..acc-2999 p_g={p_g} measured={rate:.4f}")
    # binomial sd at n = 3000 is at most 0.0091; 0.035 is over 3.8 sd
    assert abs(rate - p_g) < 0.035, (p_g, rate)


# -- (2) review ordering is p_v --------------------------------------------------------


@pytest.mark.parametrize("p_v", [0.3, 0.5, 0.65, 0.8, 0.95])
def test_a_review_orders_a_right_above_a_wrong_candidate_with_probability_p_v(
    p_v: float,
) -> None:
    params = SimConfig(p_v=p_v, seed=11, reasoning_tokens=0)
    rate = ordered_rate(params, 3000)
    print(f"seed=11 tasks=order-0..order-2999 p_v={p_v} measured={rate:.4f}")
    assert abs(rate - p_v) < 0.035, (p_v, rate)


def test_self_bias_favours_the_reviewers_own_answer_and_zero_bias_does_not() -> None:
    candidates = [("Candidate_A", "x\nFinal answer: \\boxed{41}")]
    for bias, expect_higher in ((0.0, False), (1.5, True)):
        params = SimConfig(p_v=0.5, self_bias=bias, reasoning_tokens=0, seed=2)
        mine = [
            review(params, candidates, own="41", truth="42", task_id=f"b{i}")[0][0].weight
            for i in range(300)
        ]
        other = [
            review(params, candidates, own="40", truth="42", task_id=f"b{i}")[0][0].weight
            for i in range(300)
        ]
        gap = statistics.mean(mine) - statistics.mean(other)
        assert (gap > 20) if expect_higher else (gap == 0.0), (bias, gap)


# -- (4) difficulty is shared ----------------------------------------------------------


def test_two_agents_errors_are_correlated_across_tasks() -> None:
    agents = [SimConfig(p_g=0.55, seed=s, reasoning_tokens=0) for s in range(1, 6)]
    tasks = [f"corr-{i}" for i in range(3000)]
    hits = [
        [right(propose(a, agent=f"ag{k}", task_id=t), t) for t in tasks]
        for k, a in enumerate(agents)
    ]
    r = statistics.correlation([float(h) for h in hits[0]], [float(h) for h in hits[1]])
    print(f"seeds=1..5 tasks=corr-0..corr-2999 correlation={r:.3f}")
    assert r > 0.15, r  # independent agents: sd ≈ 0.018 around 0
    all_wrong = sum(not any(col) for col in zip(*hits, strict=True)) / len(tasks)
    assert all_wrong > 2 * 0.45**5, all_wrong  # some tasks defeat everyone


# -- (5) fatigue -----------------------------------------------------------------------


def test_fatigue_lowers_regeneration_accuracy_and_review_precision_in_late_rounds() -> None:
    params = SimConfig(
        p_g=0.6,
        p_v=0.85,
        sycophancy=0.0,
        fatigue_g=0.04,
        fatigue_v=0.03,
        reasoning_tokens=0,
        seed=8,
    )
    tasks = [f"fat-{i}" for i in range(2500)]
    # no own answer and no winner: every later-round proposal is a fresh generation
    acc = {
        r: sum(right(propose(params, task_id=t, round_number=r), t) for t in tasks) / 2500
        for r in (1, 6)
    }
    p_v = {r: ordered_rate(params, 2500, round_number=r) for r in (1, 6)}
    print(f"seed=8 tasks=fat-0..fat-2499 accuracy={acc} p_v={p_v}")
    assert acc[1] - acc[6] > 0.1, acc  # the model says ≈ 0.2; sd of the gap ≈ 0.014
    assert p_v[1] - p_v[6] > 0.1, p_v  # 0.85 → 0.5 + 0.35·0.25 ≈ 0.59
    assert abs(p_v[6] - p_v_at(params, "math", 6)) < 0.035


def test_a_perfect_reviewer_weighs_every_right_candidate_above_every_wrong_one() -> None:
    verifier = SimConfig(p_v=1.0, fatigue_v=0.0, reasoning_tokens=0)
    rw = [
        ("Candidate_A", "x\nFinal answer: \\boxed{42}"),
        ("Candidate_B", "y\nFinal answer: \\boxed{41}"),
    ]
    pairs = [review(verifier, rw, own="7", truth="42", task_id=f"pv{i}")[0] for i in range(200)]
    assert all(a.weight > b.weight for a, b in pairs)
    # p_v = 1 is clamped to 1 − 1e-6: each score sits about 3.4 sd from zero
    assert statistics.mean(a.weight for a, _ in pairs) > 80
    assert statistics.mean(b.weight for _, b in pairs) < -80
    verdicts = [(a.claims[0].verdict, b.claims[0].verdict) for a, b in pairs]
    assert verdicts.count(("verified", "wrong")) > 180
