"""The simulated agent of §6.2 as pure functions: parameters and a task in, text out.

The latent model (difficulty, ability, confidence, fatigue, review precision, moves) is in
``sim_latent``, the adversaries and the response to planted instructions in
``sim_adversary``, the wording in ``sim_text``; this module turns them into answers,
proposals and reviews.

- Truth: the task's reference answer, else a hidden label derived from the problem.
- Wrong answers come from a small per-task distractor pool with fixed decreasing weights,
  the same for every agent, so wrong answers coincide as real models' do.
- Round 1: right with P(right | agent, task), else a distractor.
- Round r > 1: the move (adopt the previous winner's answer, keep the own answer, or
  regenerate) comes from ``sim_latent.decide_move``, which never sees an answer's
  correctness; a regeneration is a fresh draw, right with P(right) at round r. A proposer
  that follows an instruction planted in its context answers what it names instead.
- Reviewing: each candidate gets a latent score, ±μ(r)/2 + N(0, 1) (+ ``self_bias`` if it
  shares the reviewer's answer), and a weight ``REVIEW_SCALE``·score, rounded and clamped
  to [−100, 100]. Verdict and justification follow the score. Claim quotes are real
  substrings. A ``self_promote`` review scores every candidate at the bound below; a
  review that follows a planted instruction scores that candidate at the bound above.
- The truth is read in exactly two places: ``draw_answer`` (a generation is right or a
  distractor, in round 1 and in every regeneration) and ``review_score`` (the sign of
  ±μ/2). Nothing else of a deliberation can learn it but through reviews.
- Every draw comes from an RNG seeded by (seed, agent, task, round, phase, seat[, label]):
  the same agent in two seats (Self-MoA) gives two independent samples, as a model
  sampled twice at temperature would.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.base import AnswerFormat
from schemas.review import Claim
from services.agent_runner.backends import sim_adversary
from services.agent_runner.backends.sim_latent import (
    Move,
    confidence,
    decide_move,
    p_right,
    p_v_at,
    score_gap,
)
from services.agent_runner.backends.sim_text import (
    HOW,
    WHY,
    filler,
    quote,
    render_answer,
    verdict_of,
)
from services.agent_runner.config import SimConfig
from services.core.answers import extract_answer, normalize_answer, same_answer
from services.core.rng import seeded, stable_hex

DISTRACTOR_WEIGHTS = (0.45, 0.25, 0.15, 0.10, 0.05)
# Weight per unit of latent review score: the noise (sd 1) spans about ±30, and only a
# score past ±3.3 reaches the ballot's bounds.
REVIEW_SCALE = 30.0
BOUND_SCORE = 100.0 / REVIEW_SCALE  # the latent score that reaches the ballot's bound

__all__ = ["render_answer"]  # tests build candidates as simulated agents write them


@dataclass(frozen=True)
class SimProposal:
    answer: str
    content: str
    reasoning: str
    latency_s: float
    move: Move | None = None  # None: a first solution (round 1, or nothing to build on)


@dataclass(frozen=True)
class SimJudgement:
    label: str
    weight: float
    justification: str
    claims: tuple[Claim, ...]


def fails(
    params: SimConfig, agent_id: str, task_id: str, round_number: int, phase: str, seat: int
) -> bool:
    """Whether this call fails, with probability ``error_rate`` (seeded like every draw)."""
    if params.error_rate <= 0.0:
        return False
    draw = seeded(params.seed, agent_id, task_id, round_number, phase, seat, "error").random()
    return draw < params.error_rate


def hidden_truth(task_id: str, answer_format: AnswerFormat) -> str:
    rng = seeded("truth", task_id)
    if answer_format == "integer":
        return str(rng.randint(10, 999))
    if answer_format == "choice":
        return rng.choice("ABCDE")
    return f"answer-{stable_hex('truth', task_id, size=3)}"


def distractor_pool(task_id: str, truth: str, answer_format: AnswerFormat) -> list[str]:
    """The same wrong answers, in the same order of likelihood, for every agent."""
    rng = seeded("distractors", task_id)
    candidates: list[str]
    if answer_format == "choice":
        candidates = [c for c in "ABCDE" if c != truth.strip().upper()]
    else:
        # An integer task compares canonical numbers ("$18" is 18), so derive from those,
        # exactly (a float would round a reference past 2**53).
        number = normalize_answer(truth, "integer") if answer_format == "integer" else None
        try:
            value = int(number) if number else int(float(truth.replace(",", "")))
        except (ValueError, OverflowError):  # not a number, or not a finite one ("inf")
            candidates = [f"{truth} (variant {k})" for k in range(1, 6)]
        else:
            offsets = [value + 1, value - 1, value * 2, value + 10, value // 2 if value else 7]
            candidates = [str(v) for v in dict.fromkeys(offsets) if v != value]
    # A distractor must be wrong by the same comparison that grades answers.
    candidates = [c for c in candidates if not same_answer(c, truth, answer_format)]
    rng.shuffle(candidates)
    return candidates[: len(DISTRACTOR_WEIGHTS)]


def draw_answer(rng: random.Random, chance: float, truth: str, pool: Sequence[str]) -> str:
    """A generation: the truth with probability ``chance``, else a distractor (reads the truth)."""
    if rng.random() < chance or not pool:
        return truth
    return rng.choices(list(pool), weights=DISTRACTOR_WEIGHTS[: len(pool)], k=1)[0]


def review_score(rng: random.Random, gap: float, is_right: bool) -> float:
    """A review's latent score of one candidate: ±gap/2 + N(0, 1) (reads the truth)."""
    return (gap if is_right else -gap) / 2.0 + rng.gauss(0.0, 1.0)


def latency(rng: random.Random, params: SimConfig) -> float:
    if params.latency_median_s <= 0:
        return 0.0
    return params.latency_median_s * math.exp(params.latency_sigma * rng.gauss(0.0, 1.0))


def choose_move(
    params: SimConfig,
    *,
    agent_id: str,
    task_id: str,
    domain: str,
    round_number: int,
    has_winner: bool,
    winner_support: float,
    has_own: bool,
    seat: int = 0,
) -> Move | None:
    """The move of this call, from its own seeded stream; None for a first solution."""
    if round_number <= 1 or not (has_winner or has_own):
        return None
    rng = seeded(params.seed, agent_id, task_id, round_number, "propose", seat, "move")
    u_adopt, u_keep = rng.random(), rng.random()
    return decide_move(
        u_adopt,
        u_keep,
        confidence=confidence(params, domain, task_id),
        support=winner_support,
        sycophancy=params.sycophancy,
        has_winner=has_winner,
        has_own=has_own,
    )


def simulate_proposal(
    params: SimConfig,
    *,
    agent_id: str,
    task_id: str,
    domain: str,
    answer_format: AnswerFormat,
    round_number: int,
    truth: str,
    winner_answer: str | None,
    own_previous: str | None,
    winner_support: float = 0.0,
    seat: int = 0,
    shown: Sequence[str] = (),
) -> SimProposal:
    """``shown``: the texts of other agents its context holds (state items, critiques)."""
    move: Move | None = choose_move(
        params,
        agent_id=agent_id,
        task_id=task_id,
        domain=domain,
        round_number=round_number,
        has_winner=winner_answer is not None,
        winner_support=winner_support,
        has_own=own_previous is not None,
        seat=seat,
    )
    ordered = sim_adversary.ordered_answer(shown) if round_number > 1 else None
    if ordered is not None and sim_adversary.obeys(
        params, agent_id, task_id, round_number, "propose", seat
    ):
        move, answer = "obey", ordered
    elif move == "adopt" and winner_answer is not None:
        answer = winner_answer
    elif move == "keep" and own_previous is not None:
        answer = own_previous
    else:
        generate = seeded(params.seed, agent_id, task_id, round_number, "propose", seat, "answer")
        pool = distractor_pool(task_id, truth, answer_format)
        answer = draw_answer(generate, p_right(params, domain, task_id, round_number), truth, pool)
    rng = seeded(params.seed, agent_id, task_id, round_number, "propose", seat)
    reasoning = filler(rng, params.reasoning_tokens)
    planted = sim_adversary.notes(answer, answer_format) if params.adversary == "inject" else ()
    content = "\n".join((HOW[move], *planted, render_answer(answer, answer_format)))
    return SimProposal(
        answer=answer,
        content=content,
        reasoning=reasoning,
        latency_s=latency(rng, params),
        move=move,
    )


def simulate_review(
    params: SimConfig,
    *,
    agent_id: str,
    task_id: str,
    domain: str,
    answer_format: AnswerFormat,
    round_number: int,
    truth: str,
    own_answer: str | None,
    candidates: Sequence[tuple[str, str]],
    seat: int = 0,
) -> tuple[list[SimJudgement], float]:
    """Judge each ``(label, content)``; returns the judgements and the call's latency."""
    rng = seeded(params.seed, agent_id, task_id, round_number, "review", seat)
    gap = score_gap(p_v_at(params, domain, round_number))
    fooled = sim_adversary.obeys(params, agent_id, task_id, round_number, "review", seat)
    judgements: list[SimJudgement] = []
    for label, content in candidates:
        if params.adversary == "self_promote":
            score = -BOUND_SCORE  # whatever the candidate says
        elif fooled and sim_adversary.planted(content).to_reviewers:
            score = BOUND_SCORE
        else:
            crng = seeded(
                params.seed, agent_id, task_id, round_number, "review", seat, label, content
            )
            answer = extract_answer(content, answer_format)
            score = review_score(crng, gap, same_answer(answer, truth, answer_format))
            if params.self_bias and same_answer(answer, own_answer, answer_format):
                score += params.self_bias
        verdict = verdict_of(score)
        line = quote(content)
        judgements.append(
            SimJudgement(
                label=label,
                weight=float(max(-100, min(100, round(REVIEW_SCALE * score)))),
                justification=f"{label}: {WHY[verdict]}",
                claims=(Claim(quote=line, verdict=verdict),) if line else (),
            )
        )
    return judgements, latency(rng, params)
