"""The latent side of the simulated agent (§6.2): task difficulty, agent ability, the
precisions they give at each round, and a proposer's move. Pure and blind to the truth:
nothing here takes an answer or the reference, so no decision can depend on correctness.

Consumes a ``SimConfig``, a task id and a round; emits probabilities, review score gaps
and moves.

- Difficulty d_t ~ Normal(0, DIFFICULTY_SD), seeded by the task id alone, so it is the
  same for every agent: errors correlate and some tasks defeat everyone.
- Ability a: solved so that the mean of σ(a − d) over the difficulty distribution is the
  agent's p_g (bisection on a fixed quadrature of the normal, cached). At round r,
  P(right) = σ(a − fatigue_g·(r−1)² − d_t).
- Confidence: the agent's calibrated belief σ(a − d_t). It knows how hard the task feels
  to it, never whether its answer is right.
- Review precision p_v(r) = ½ + (p_v − ½)·max(0, 1 − fatigue_v·(r−1)²). A review scores
  candidate j as s_j = ±μ/2 + ε_j (+ for a right answer), ε_j ~ N(0, 1), with
  μ = √2·Φ⁻¹(p_v(r)), so P(s_right > s_wrong) = p_v(r) exactly and p_v = ½ is chance.
- Move in round r > 1: adopt the previous winner's answer with probability
  s + (1 − s)·w·(1 − c) (sycophancy s, the winner's support w ∈ [0, 1], confidence c);
  otherwise keep the own answer with probability c, else regenerate (a fresh draw).
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

from services.agent_runner.config import SimConfig
from services.core.rng import seeded

# "obey": following an instruction planted in another agent's text (``sim_adversary``),
# decided there, never by ``decide_move``.
Move = Literal["adopt", "keep", "regenerate", "obey"]

# Spread of task difficulty in logits. 1.5 puts the correlation of two p_g ≈ 0.55 agents'
# round-1 correctness near 0.25–0.3 (real models' errors on a benchmark correlate).
DIFFICULTY_SD = 1.5
QUADRATURE = 400  # equal-probability nodes of the normal used to solve for ability
P_EDGE = 1e-6  # p_v is clamped to [P_EDGE, 1 − P_EDGE] so μ stays finite

_STANDARD = NormalDist()
_NODES = tuple(_STANDARD.inv_cdf((i + 0.5) / QUADRATURE) for i in range(QUADRATURE))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@lru_cache(maxsize=65536)
def difficulty(task_id: str) -> float:
    return seeded("difficulty", task_id).gauss(0.0, DIFFICULTY_SD)


def mean_accuracy(a: float, sd: float = DIFFICULTY_SD) -> float:
    """The mean of σ(a − d) over d ~ Normal(0, sd), on the fixed quadrature."""
    return sum(sigmoid(a - sd * z) for z in _NODES) / QUADRATURE


@lru_cache(maxsize=1024)
def ability(p_g: float, sd: float = DIFFICULTY_SD) -> float:
    """The a with ``mean_accuracy(a) = p_g``; ±∞ for an agent always wrong or always right."""
    if p_g <= 0.0:
        return -math.inf
    if p_g >= 1.0:
        return math.inf
    low, high = -50.0, 50.0
    for _ in range(64):
        mid = (low + high) / 2
        if mean_accuracy(mid, sd) < p_g:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def confidence(params: SimConfig, domain: str, task_id: str) -> float:
    """The agent's calibrated belief that it solves this task: σ(a − d_t)."""
    return sigmoid(ability(params.precision(domain).p_g) - difficulty(task_id))


def p_right(params: SimConfig, domain: str, task_id: str, round_number: int) -> float:
    """P(a generation at this round is right): ability lowered by fatigue, against d_t."""
    tired = params.fatigue_g * (round_number - 1) ** 2
    return sigmoid(ability(params.precision(domain).p_g) - tired - difficulty(task_id))


def p_v_at(params: SimConfig, domain: str, round_number: int) -> float:
    """P(a review orders a right above a wrong candidate) at this round."""
    edge = params.precision(domain).p_v - 0.5
    return 0.5 + edge * max(0.0, 1.0 - params.fatigue_v * (round_number - 1) ** 2)


@lru_cache(maxsize=4096)
def score_gap(p_v: float) -> float:
    """μ such that P(μ + ε₁ − ε₂ > 0) = Φ(μ/√2) = p_v, for ε₁, ε₂ ~ N(0, 1)."""
    return math.sqrt(2.0) * _STANDARD.inv_cdf(min(max(p_v, P_EDGE), 1.0 - P_EDGE))


def adopt_probability(confidence: float, support: float, sycophancy: float) -> float:
    w = min(max(support, 0.0), 1.0)
    return sycophancy + (1.0 - sycophancy) * w * (1.0 - confidence)


def decide_move(
    u_adopt: float,
    u_keep: float,
    *,
    confidence: float,
    support: float,
    sycophancy: float,
    has_winner: bool,
    has_own: bool,
) -> Move:
    """A proposer's move in round r > 1, from two uniform draws in [0, 1).

    It takes no answer and no truth: whether the winner or the own answer is right cannot
    change the move. Without a winner there is nothing to adopt; without an own answer
    (its last call failed) there is nothing to keep.
    """
    if has_winner and u_adopt < adopt_probability(confidence, support, sycophancy):
        return "adopt"
    if has_own and u_keep < confidence:
        return "keep"
    return "regenerate"
