"""Inputs of the handler tests on the unit stack: a task (``h-1`` unless named), a phase or
task timer falling due, and the proposal requests of a task the broker has opened."""

from __future__ import annotations

from typing import Any

from schemas.propose import ProposeRequested
from schemas.task import Policy, TaskSubmitted
from schemas.timers import PhaseDue
from services.broker import handlers as broker
from services.core import ids

from .builders import delivery
from .conftest import Stack


def task(task_id: str | None = "h-1", **policy: Any) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt="What is 6 times 7?",
        answer_format="integer",
        policy=Policy(**policy),
    )


def timer(task_id: str, round_number: int, phase: str, owner: str = "reviewer") -> PhaseDue:
    return PhaseDue(
        task_id=task_id,
        round=round_number,
        message_id=ids.timer(task_id, round_number, phase),
        phase=phase,
        owner=owner,
        due_at=0.0,
    )


async def opened(stack: Stack, task_id: str = "h-1", **policy: Any) -> list[ProposeRequested]:
    out = await broker.on_task(task(task_id, **policy), delivery(), stack.broker)
    return [m for m in out if isinstance(m, ProposeRequested)]
