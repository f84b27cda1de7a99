"""A phase timer (``schemas.timers.PhaseDue``) under its deterministic id: one per task,
round and phase, so that a handler run twice arms it once."""

from __future__ import annotations

from schemas.timers import PhaseDue, TimedPhase, TimerOwner
from services.core import ids


def phase_due(
    task_id: str, round_number: int, phase: TimedPhase, owner: TimerOwner, due_at: float
) -> PhaseDue:
    return PhaseDue(
        task_id=task_id,
        round=round_number,
        message_id=ids.timer(task_id, round_number, phase),
        phase=phase,
        owner=owner,
        due_at=due_at,
    )
