"""Durable phase timers: a ``PhaseDue`` waits in ``NSED_TIMERS`` until ``due_at``.

The deadline itself lives in the deliberation record; the timer only wakes the service that
owns the phase (its consumer naks the message with the remaining delay until it is due), so
a restarted replica picks up every timer where a dead one left it.
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
