"""Message builders shared by the unit and integration tiers (the unit tier's own, which
need its fixtures, are in ``tests/unit/builders.py``)."""

from __future__ import annotations

from schemas.gate import DeliberationConcluded
from services.core import ids


def concluded(task_id: str = "t1") -> DeliberationConcluded:
    """The result of a task that converged in one round, under its own result id."""
    return DeliberationConcluded(
        task_id=task_id,
        round=1,
        message_id=ids.result(task_id),
        status="completed",
        stop_reason="converged",
    )
