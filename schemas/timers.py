"""Durable phase timers: a ``PhaseDue`` waits in ``NSED_TIMERS`` until ``due_at``.

The deadline itself lives in the deliberation record; the timer only wakes the service that
owns the phase (its consumer naks the message with the remaining delay until it is due), so
a restarted replica picks up every timer where a dead one left it. A task has one timer
waiting per phase, its latest round's (``replaces``): the earlier rounds' never fall due.
"""

from __future__ import annotations

from typing import Literal

from schemas.base import Event
from schemas.limits import Epoch

TimedPhase = Literal["proposing", "reviewing", "task"]
TimerOwner = Literal["reviewer", "voter", "gate"]


class PhaseDue(Event, tag="phase.due", frozen=True, kw_only=True):
    phase: TimedPhase
    owner: TimerOwner
    due_at: Epoch


def replaces(scheduled: PhaseDue | None, timer: PhaseDue) -> bool:
    """Whether arming ``timer`` should replace ``scheduled``, the timer its task and phase
    has waiting (``schemas.subjects.TIMER_SCHEDULES``: one per task and phase): only a later
    round's. An earlier round's phase is over once a later round's timer is armed, so an arm
    of it (a handler re-run, a publish held up past the next round's) must not cancel the
    later one; the same round's is the same timer, already armed."""
    return scheduled is None or scheduled.round < timer.round
