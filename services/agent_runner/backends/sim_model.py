"""The simulated agent of §6.2 as pure functions: parameters and a task in, text out.

The latent model (difficulty, ability, confidence, fatigue, review precision, moves) is in
``sim_latent``; this module turns it into answers, proposals and reviews.

- Truth: the task's reference answer, else a hidden label derived from the task id.
- Wrong answers come from a small per-task distractor pool with fixed decreasing weights,
  the same for every agent, so wrong answers coincide as real models' do.
- Round 1: right with P(right | agent, task), else a distractor.
- Round r > 1: the move (adopt the previous winner's answer, keep the own answer, or
  regenerate) comes from ``sim_latent.decide_move``, which never sees an answer's
  correctness; a regeneration is a fresh draw, right with P(right) at round r.
- Reviewing: each candidate gets a latent score, ±μ(r)/2 + N(0, 1) (+ ``self_bias`` if it
  shares the reviewer's answer), and a weight ``REVIEW_SCALE``·score, rounded and clamped
  to [−100, 100]. Verdict and justification follow the score. Claim quotes are real
  substrings.
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
from schemas.review import Claim, Verdict
from services.agent_runner.backends.sim_latent import (
    Move,
    confidence,
    decide_move,
    p_right,
    p_v_at,
    score_gap,
)
from services.agent_runner.config import SimConfig
from services.core.answers import extract_answer, normalize_answer, same_answer
from services.core.rng import seeded, stable_hex
from services.core.tokens import CHARS_PER_TOKEN

DISTRACTOR_WEIGHTS = (0.45, 0.25, 0.15, 0.10, 0.05)
# Weight per unit of latent review score: the noise (sd 1) spans about ±30, and only a
# score past ±3.3 reaches the ballot's bounds.
REVIEW_SCALE = 30.0

_FILLER = (
    "Let me restate what is being asked and list the quantities involved.",
    "I will set up the relationships between the given values first.",
    "Checking the units keeps the intermediate results consistent.",
    "Working through the arithmetic one step at a time avoids slips.",
    "An alternative route through the problem should give the same result.",
    "I double-check the step that carries the most risk of error.",
    "Substituting the intermediate value back confirms the relation holds.",
    "The constraint in the question rules out the other interpretation.",
    "Combining the partial results gives the quantity the question asks for.",
    "A quick estimate agrees with the order of magnitude of the result.",
)

_HOW: dict[Move | None, str] = {
    None: "I solved the problem from scratch.",
    "adopt": "I went through the leading answer and I agree with it.",
    "keep": "I re-read my previous answer and I stand by it.",
    "regenerate": "I was not sure of the earlier answers, so I solved it again.",
}

_WHY: dict[Verdict, str] = {
    "verified": "I checked the decisive steps and they hold.",
    "unverified": "Nothing looks wrong, but I could not check every step.",
    "contested": "Some steps look doubtful to me.",
    "wrong": "The result does not hold up when I recompute it.",
}


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


def render_answer(answer: str, answer_format: AnswerFormat) -> str:
    if answer_format == "code":
        return f"```python\n{answer}\n```\nFinal answer: \\boxed{{{answer}}}"
    return f"Final answer: \\boxed{{{answer}}}"


def filler(rng: random.Random, tokens: int) -> str:
    sentences: list[str] = []
    size = 0
    while size < tokens * CHARS_PER_TOKEN:
        sentence = rng.choice(_FILLER)
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


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
) -> SimProposal:
    move = choose_move(
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
    if move == "adopt" and winner_answer is not None:
        answer = winner_answer
    elif move == "keep" and own_previous is not None:
        answer = own_previous
    else:
        generate = seeded(params.seed, agent_id, task_id, round_number, "propose", seat, "answer")
        pool = distractor_pool(task_id, truth, answer_format)
        answer = draw_answer(generate, p_right(params, domain, task_id, round_number), truth, pool)
    rng = seeded(params.seed, agent_id, task_id, round_number, "propose", seat)
    reasoning = filler(rng, params.reasoning_tokens)
    content = f"{_HOW[move]}\n{render_answer(answer, answer_format)}"
    return SimProposal(
        answer=answer,
        content=content,
        reasoning=reasoning,
        latency_s=latency(rng, params),
        move=move,
    )


def verdict_of(score: float) -> Verdict:
    if score >= 1.0:
        return "verified"
    if score >= 0.0:
        return "unverified"
    return "contested" if score > -1.0 else "wrong"


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
    judgements: list[SimJudgement] = []
    for label, content in candidates:
        crng = seeded(params.seed, agent_id, task_id, round_number, "review", seat, label, content)
        answer = extract_answer(content, answer_format)
        score = review_score(crng, gap, same_answer(answer, truth, answer_format))
        if params.self_bias and same_answer(answer, own_answer, answer_format):
            score += params.self_bias
        verdict = verdict_of(score)
        quote = _quote(content)
        judgements.append(
            SimJudgement(
                label=label,
                weight=float(max(-100, min(100, round(REVIEW_SCALE * score)))),
                justification=f"{label}: {_WHY[verdict]}",
                claims=(Claim(quote=quote, verdict=verdict),) if quote else (),
            )
        )
    return judgements, latency(rng, params)


def _quote(content: str) -> str:
    """A verbatim substring of the candidate: its final-answer line."""
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    return lines[-1] if lines else ""
