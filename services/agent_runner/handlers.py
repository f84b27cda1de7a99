"""Agent-runner handlers: a work item in, the agent's proposal or review out.

Consumes ``ProposeRequested`` / ``ReviewRequested``; emits ``ProposalSubmitted`` /
``ReviewSubmitted``. A backend failure becomes an ``error`` event with the reason, so the
deliberation goes on without this agent instead of waiting for it. A proposal whose text
states no final answer in the task's format is ``no_answer``, with what was missing. Output
longer than the message bounds is cut to them (``bounds``): the message's ``notes`` say
what was cut, and so does one ``output_shortened`` warning in the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from schemas.base import Usage
from schemas.outputs import AgentOutput, AgentWork
from schemas.propose import CallStatus, ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from services._runtime.errors import Rejected
from services.agent_runner import bounds
from services.agent_runner.backends.base import (
    AgentBackend,
    BackendError,
    ProposalDraft,
    ReviewDraft,
)
from services.agent_runner.config import AgentProfile
from services.agent_runner.latency import Latency
from services.core import ids
from services.core.answers import MISSING, extract_answer

log = structlog.get_logger("agent_runner")


@dataclass
class Gauge:
    """Work in flight in this process, reported in the heartbeat."""

    value: int = 0


@dataclass(frozen=True)
class RunnerDeps:
    profile: AgentProfile
    instance_id: str
    backend: AgentBackend
    clock: Callable[[], float]
    in_flight: Gauge = field(default_factory=Gauge)
    latency: Latency | None = None  # what the card reports; every answered call feeds it
    # Whether a task has ended (cancelled, say): work for it is skipped, not paid for. Set
    # for backends that cost money; a simulated call costs nothing to make.
    ended: Callable[[str], Awaitable[bool]] | None = None


async def on_work(msg: AgentWork, deps: RunnerDeps) -> AgentOutput | None:
    if msg.agent_id != deps.profile.id:
        raise Rejected(f"work for agent {msg.agent_id!r} reached runner of {deps.profile.id!r}")
    if deps.clock() > msg.deadline:
        log.info("skipped_stale_work", deadline=msg.deadline)
        return None
    if deps.ended is not None and await deps.ended(msg.task_id):
        log.info("skipped_ended_task")
        return None
    deps.in_flight.value += 1
    try:
        if isinstance(msg, ProposeRequested):
            return await propose(msg, deps)
        return await review(msg, deps)
    finally:
        deps.in_flight.value -= 1


async def propose(msg: ProposeRequested, deps: RunnerDeps) -> ProposalSubmitted:
    try:
        draft = await deps.backend.propose(msg)
    except BackendError as exc:
        log.warning("propose_failed", error=str(exc))
        return _proposal(msg, deps, None, status="error", error=bounds.fit_error(str(exc)))
    if deps.latency is not None:
        deps.latency.observe(draft.latency_s)
    fmt = msg.task.answer_format
    draft, notes = bounds.fit_proposal(draft)
    answer, answer_notes = bounds.fit_answer(extract_answer(draft.content, fmt))
    notes += answer_notes
    if notes:
        log.warning("output_shortened", kind="proposal", notes=notes)
    status: CallStatus = "ok" if answer is not None else "no_answer"
    error = None if answer is not None else MISSING[fmt]
    if not draft.content.strip():
        status, error = "error", "empty answer"
    return _proposal(
        msg, deps, draft, status=status, error=error, answer=answer, notes=tuple(notes)
    )


def _proposal(
    msg: ProposeRequested,
    deps: RunnerDeps,
    draft: ProposalDraft | None,
    *,
    status: CallStatus,
    error: str | None,
    answer: str | None = None,
    notes: tuple[str, ...] = (),
) -> ProposalSubmitted:
    """The seat's proposal: what ``draft`` says, or (without one) only why there is none."""
    profile = deps.profile
    return ProposalSubmitted(
        task_id=msg.task_id,
        round=msg.round,
        message_id=ids.proposal(msg.task_id, msg.round, msg.seat),
        proposal_id=ids.proposal_ref(msg.task_id, msg.round, msg.seat),
        seat=msg.seat,
        agent_id=profile.id,
        instance_id=deps.instance_id,
        model=profile.model,
        content=draft.content if draft else "",
        reasoning=draft.reasoning if draft else None,
        extracted_answer=answer,
        usage=_usage(profile, draft.input_tokens, draft.output_tokens) if draft else Usage(),
        latency_s=round(draft.latency_s, 4) if draft else 0.0,
        status=status,
        error=error,
        simulated=deps.backend.simulated,
        notes=notes,
    )


async def review(msg: ReviewRequested, deps: RunnerDeps) -> ReviewSubmitted:
    try:
        draft = await deps.backend.review(msg)
    except BackendError as exc:
        log.warning("review_failed", error=str(exc))
        return _review(msg, deps, None, error=bounds.fit_error(str(exc)))
    if deps.latency is not None:
        deps.latency.observe(draft.latency_s)
    draft, notes = bounds.fit_review(draft)
    if notes:
        log.warning("output_shortened", kind="review", notes=notes)
    return _review(msg, deps, draft, notes=tuple(notes))


def _review(
    msg: ReviewRequested,
    deps: RunnerDeps,
    draft: ReviewDraft | None,
    error: str | None = None,
    notes: tuple[str, ...] = (),
) -> ReviewSubmitted:
    """The seat's review: what ``draft`` says, or (without one) the error that stopped it."""
    profile = deps.profile
    return ReviewSubmitted(
        task_id=msg.task_id,
        round=msg.round,
        message_id=ids.review(msg.task_id, msg.round, msg.seat),
        seat=msg.seat,
        agent_id=profile.id,
        instance_id=deps.instance_id,
        entries=draft.entries if draft else (),
        usage=_usage(profile, draft.input_tokens, draft.output_tokens) if draft else Usage(),
        latency_s=round(draft.latency_s, 4) if draft else 0.0,
        status="ok" if draft else "error",
        error=error,
        notes=notes,
    )


def _usage(profile: AgentProfile, input_tokens: int, output_tokens: int) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=profile.cost_usd(input_tokens, output_tokens),
        calls=1,
    )
