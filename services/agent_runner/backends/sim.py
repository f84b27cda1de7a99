"""The ``sim`` backend: the pure model of ``sim_model`` behind the backend protocol.

It needs the truth, which agents never see in their requests: ``TruthSource`` reads the
task's reference answer from ``nsed_references`` (falling back to a hidden label), the
simulation's only oracle. Latency is slept for real, scaled by ``latency_scale``.

The hidden label stands for the answer of a task that came without one: every runner of
the task derives the same label from the problem, so the council still deliberates about
one answer, which nobody outside the simulation knows. It never stands in for a reference
that exists: the broker writes a task's reference before it dispatches any of its work, and
in a cluster the runners read it from the bucket's leader, so every runner of one task
judges by the same truth.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from schemas.propose import ProposeRequested
from schemas.review import ReviewEntry, ReviewRequested
from schemas.task import TaskView
from services.agent_runner import prompts
from services.agent_runner.backends.base import BackendError, ProposalDraft, ReviewDraft
from services.agent_runner.backends.sim_model import (
    fails,
    hidden_truth,
    simulate_proposal,
    simulate_review,
)
from services.agent_runner.config import AgentProfile, SimConfig
from services.core.answers import extract_answer, normalize_answer
from services.core.rng import stable_hex
from services.core.tokens import estimate_tokens

TruthSource = Callable[[str], Awaitable[str | None]]


def leading_answer(request: ProposeRequested) -> tuple[str | None, float]:
    """The answer a simulated proposer may move toward, and how strongly it is backed: the
    previous winner and its support (nsed), else the most common of the peers' answers and
    its share of them (debate, moa: what a model reading its peers sees)."""
    state = request.state
    if state is None:
        return None, 0.0
    winner = state.winner()
    if winner is not None:
        return winner.answer, winner.support
    fmt = request.task.answer_format
    answers = [i.answer for i in state.items if i.kind == "peer" and i.answer is not None]
    keys = [normalize_answer(a, fmt) or a for a in answers]
    if not keys:
        return None, 0.0
    counts = Counter(keys)
    top = max(counts.values())
    lead = next(a for a, k in zip(answers, keys, strict=True) if counts[k] == top)
    return lead, top / len(keys)


def shown_texts(request: ProposeRequested) -> tuple[str, ...]:
    """The texts of other agents a proposal's prompt holds: the state's items (the consensus
    state, or the peers' proposals) and the critiques of the seat's previous answer."""
    items = request.state.items if request.state is not None else ()
    return (*(item.text for item in items), *request.feedback)


def problem_key(task: TaskView) -> str:
    """What the simulation keys its draws on: the problem (its text and format), not the
    task id, so the same question asked as two tasks (by two protocols of a study, say)
    meets the same difficulty and the same first answers: comparisons are paired."""
    return "p" + stable_hex(task.prompt, task.answer_format, size=8)


Sleep = Callable[[float], Awaitable[None]]


class SimBackend:
    simulated = True

    def __init__(
        self,
        profile: AgentProfile,
        truth: TruthSource,
        *,
        latency_scale: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if profile.sim is None:
            raise ValueError(f"agent {profile.id} has no sim parameters")
        self.profile = profile
        self.params: SimConfig = profile.sim
        self._truth = truth
        self.latency_scale = latency_scale
        self._sleep = sleep

    async def _truth_for(self, task: TaskView) -> str:
        reference = await self._truth(task.task_id)
        if reference is not None and reference.strip():
            return reference.strip()
        return hidden_truth(problem_key(task), task.answer_format)

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        started = time.perf_counter()
        task = request.task
        key = problem_key(task)
        if fails(self.params, self.profile.id, key, request.round, "propose", request.seat):
            raise BackendError("simulated failure (error_rate)")
        truth = await self._truth_for(task)
        lead, support = leading_answer(request)
        out = simulate_proposal(
            self.params,
            agent_id=self.profile.id,
            task_id=key,
            domain=task.domain,
            answer_format=task.answer_format,
            round_number=request.round,
            truth=truth,
            winner_answer=lead,
            winner_support=support,
            own_previous=request.previous_answer,
            seat=request.seat,
            shown=shown_texts(request),
        )
        await self._sleep(out.latency_s * self.latency_scale)
        return ProposalDraft(
            content=out.content,
            reasoning=out.reasoning,
            input_tokens=prompts.prompt_tokens(prompts.propose_messages(request)),
            output_tokens=estimate_tokens(out.content) + estimate_tokens(out.reasoning),
            latency_s=time.perf_counter() - started,
        )

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        started = time.perf_counter()
        task = request.task
        key = problem_key(task)
        if fails(self.params, self.profile.id, key, request.round, "review", request.seat):
            raise BackendError("simulated failure (error_rate)")
        truth = await self._truth_for(task)
        own = extract_answer(request.own.content, task.answer_format) if request.own else None
        judgements, delay = simulate_review(
            self.params,
            agent_id=self.profile.id,
            task_id=key,
            domain=task.domain,
            answer_format=task.answer_format,
            round_number=request.round,
            truth=truth,
            own_answer=own,
            candidates=[(c.label, c.content) for c in request.candidates],
            seat=request.seat,
        )
        await self._sleep(delay * self.latency_scale)
        entries = tuple(
            ReviewEntry(
                label=j.label,
                weight=round(j.weight, 2),
                justification=j.justification,
                claims=j.claims,
            )
            for j in judgements
        )
        text = "\n".join(f"{e.label}: {e.weight} {e.justification}" for e in entries)
        return ReviewDraft(
            entries=entries,
            input_tokens=prompts.prompt_tokens(prompts.review_messages(request)),
            output_tokens=estimate_tokens(text),
            latency_s=time.perf_counter() - started,
        )

    async def aclose(self) -> None:
        return None
