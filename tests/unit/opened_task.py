"""Inputs of the handler tests on the in-memory services: a task (``h-1`` unless named), a phase or
task timer falling due, the proposal requests of a task the broker has opened, and an
agent's output handed to its consumer as it arrives (on its own subject)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.base import Message
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewSubmitted
from schemas.task import Policy, TaskSubmitted
from schemas.timers import PhaseDue
from services.core import ids
from services.inmemory import InMemoryServices


def task(task_id: str | None = "h-1", **policy: Any) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt="What is 6 times 7?",
        answer_format="integer",
        policy=Policy(**policy),
    )


OWNERS = {"proposing": "reviewer", "reviewing": "voter", "task": "gate"}


def timer(task_id: str, round_number: int, phase: str, owner: str | None = None) -> PhaseDue:
    """The phase's timer, due at once, for its owner (``OWNERS``) unless ``owner`` says."""
    return PhaseDue(
        task_id=task_id,
        round=round_number,
        message_id=ids.timer(task_id, round_number, phase),
        phase=phase,
        owner=owner or OWNERS[phase],
        due_at=0.0,
    )


async def opened(
    inmem: InMemoryServices, task_id: str = "h-1", **policy: Any
) -> list[ProposeRequested]:
    out = await inmem.handle(task(task_id, **policy))
    return [m for m in out if isinstance(m, ProposeRequested)]


async def submitted(
    inmem: InMemoryServices, msg: ProposalSubmitted | ReviewSubmitted
) -> Sequence[Message]:
    """The outputs of a proposal's (the reviewer) or a review's (the voter) consumer, the
    message published as agents do."""
    return await inmem.handle(msg)
