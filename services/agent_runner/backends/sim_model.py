"""The simulated agent of §6.2 as pure functions: parameters and a task in, text out.

- Truth: the task's reference answer, else a hidden label derived from the task id.
- Wrong answers come from a small per-task distractor pool with decreasing weights that
  are the same for every agent, so errors are correlated as real models' errors are.
- Round 1: right with probability p_g, else a distractor.
- Round r > 1: with probability p_v(r) = p_v·(1−φ)^(r−1) the agent verifies: it adopts the
  previous winner if that is right, else keeps its own answer if that is right, else
  regenerates (right with p_g). Without verification it adopts the winner with probability
  s (sycophancy), else keeps its own.
- Reviewing: with probability p_v(r) it judges a candidate correctly (high positive weight
  for a right answer, strongly negative for a wrong one); otherwise it leans towards
  candidates that agree with its own answer, with noise. Claim quotes are real substrings.
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
from services.agent_runner.config import SimConfig
from services.core.answers import extract_answer, normalize_answer, same_answer
from services.core.rng import seeded, stable_hex
from services.core.tokens import CHARS_PER_TOKEN

DISTRACTOR_WEIGHTS = (0.45, 0.25, 0.15, 0.10, 0.05)

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


@dataclass(frozen=True)
class SimProposal:
    answer: str
    content: str
    reasoning: str
    latency_s: float


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


def p_v_at(params: SimConfig, domain: str, round_number: int) -> float:
    return params.precision(domain).p_v * (1.0 - params.fatigue) ** (round_number - 1)


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


def draw_answer(rng: random.Random, p_g: float, truth: str, pool: Sequence[str]) -> str:
    if rng.random() < p_g or not pool:
        return truth
    return rng.choices(list(pool), weights=DISTRACTOR_WEIGHTS[: len(pool)], k=1)[0]


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
    seat: int = 0,
) -> SimProposal:
    rng = seeded(params.seed, agent_id, task_id, round_number, "propose", seat)
    p_g = params.precision(domain).p_g
    pool = distractor_pool(task_id, truth, answer_format)

    def right(answer: str | None) -> bool:
        return same_answer(answer, truth, answer_format)

    if round_number <= 1 or own_previous is None:
        answer = draw_answer(rng, p_g, truth, pool)
        how = "I solved the problem from scratch."
    elif rng.random() < p_v_at(params, domain, round_number):
        if winner_answer is not None and right(winner_answer):
            answer, how = winner_answer, "I checked the leading answer step by step; it holds."
        elif right(own_previous):
            answer, how = own_previous, "I re-verified my previous answer and it holds."
        else:
            answer = draw_answer(rng, p_g, truth, pool)
            how = "The earlier answers did not survive checking, so I solved it again."
    elif winner_answer is not None and rng.random() < params.sycophancy:
        answer, how = winner_answer, "The leading answer looks right to me."
    else:
        answer, how = own_previous, "I keep my previous answer."
    reasoning = filler(rng, params.reasoning_tokens)
    content = f"{how}\n{render_answer(answer, answer_format)}"
    return SimProposal(
        answer=answer, content=content, reasoning=reasoning, latency_s=latency(rng, params)
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
    p_v = p_v_at(params, domain, round_number)
    judgements: list[SimJudgement] = []
    for label, content in candidates:
        crng = seeded(params.seed, agent_id, task_id, round_number, "review", seat, label, content)
        answer = extract_answer(content, answer_format)
        is_right = same_answer(answer, truth, answer_format)
        verdict: Verdict
        if crng.random() < p_v:
            weight = crng.uniform(60, 95) if is_right else -crng.uniform(55, 95)
            verdict = "verified" if is_right else "wrong"
            why = (
                "I verified the decisive steps; the result is correct."
                if is_right
                else f"The final result {answer} does not hold up when I recompute it."
            )
        else:
            agrees = same_answer(answer, own_answer, answer_format)
            weight = crng.uniform(30, 80) if agrees else crng.uniform(-60, 20)
            weight += crng.gauss(0.0, 10.0)
            verdict = "unverified" if agrees else "contested"
            why = "It matches my own result." if agrees else "It differs from my own result."
        quote = _quote(content)
        claims = (Claim(quote=quote, verdict=verdict),) if quote else ()
        judgements.append(
            SimJudgement(
                label=label,
                weight=max(-100.0, min(100.0, weight)),
                justification=why,
                claims=claims,
            )
        )
    return judgements, latency(rng, params)


def _quote(content: str) -> str:
    """A verbatim substring of the candidate: its final-answer line."""
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    return lines[-1] if lines else ""
