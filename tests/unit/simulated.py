"""Calls into the simulated agent, shared by test_sim_model and test_sim_calibration."""

from __future__ import annotations

from schemas.base import AnswerFormat
from services.agent_runner.backends.sim_model import (
    SimJudgement,
    SimProposal,
    distractor_pool,
    hidden_truth,
    render_answer,
    simulate_proposal,
    simulate_review,
)
from services.agent_runner.config import SimConfig

PARAMS = SimConfig(p_g=0.55, p_v=0.8, sycophancy=0.2, reasoning_tokens=40, seed=7)


def propose(
    params: SimConfig = PARAMS,
    *,
    agent: str = "a1",
    task_id: str = "t1",
    fmt: AnswerFormat = "integer",
    round_number: int = 1,
    truth: str | None = None,
    winner: str | None = None,
    own: str | None = None,
    support: float = 0.0,
    seat: int = 0,
    shown: tuple[str, ...] = (),
) -> SimProposal:
    return simulate_proposal(
        params,
        agent_id=agent,
        task_id=task_id,
        domain="math",
        answer_format=fmt,
        round_number=round_number,
        truth=truth if truth is not None else hidden_truth(task_id, fmt),
        winner_answer=winner,
        own_previous=own,
        winner_support=support,
        seat=seat,
        shown=shown,
    )


def review(
    params: SimConfig,
    candidates: list[tuple[str, str]],
    *,
    own: str | None,
    truth: str,
    task_id: str = "t1",
    round_number: int = 1,
    agent: str = "a1",
) -> tuple[list[SimJudgement], float]:
    return simulate_review(
        params,
        agent_id=agent,
        task_id=task_id,
        domain="math",
        answer_format="integer",
        round_number=round_number,
        truth=truth,
        own_answer=own,
        candidates=candidates,
    )


def right(p: SimProposal, task_id: str) -> bool:
    return p.answer == hidden_truth(task_id, "integer")


def ordered_rate(params: SimConfig, tasks: int, round_number: int = 1) -> float:
    """How often a review weighs a right candidate above a wrong one (a tie counts half)."""
    wins = 0.0
    for i in range(tasks):
        task = f"order-{i}"
        truth = hidden_truth(task, "integer")
        wrong = distractor_pool(task, truth, "integer")[0]
        candidates = [
            ("Candidate_A", f"Work.\n{render_answer(truth, 'integer')}"),
            ("Candidate_B", f"Work.\n{render_answer(wrong, 'integer')}"),
        ]
        (a, b), _ = review(
            params, candidates, own=None, truth=truth, task_id=task, round_number=round_number
        )
        wins += 1.0 if a.weight > b.weight else 0.5 if a.weight == b.weight else 0.0
    return wins / tasks
