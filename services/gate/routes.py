"""Gate routes: tallies → ``on_tally``; the task-deadline timers → ``on_timer``."""

from __future__ import annotations

from functools import partial

from schemas import subjects
from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.route import Route
from services.gate import handlers
from services.gate.handlers import GateDeps


def routes(deps: GateDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="gate-tallies",
            consumes=(TallyComputed,),
            handler=partial(handlers.on_tally, deps=deps),
            emits=(RoundContinued, DeliberationConcluded),
        ),
        Route(
            name="gate-cancels",
            consumes=(CancelRequested,),
            handler=partial(handlers.on_cancel, deps=deps),
            emits=(DeliberationConcluded,),
        ),
        Route(
            name="gate-timers",
            consumes=(PhaseDue,),
            handler=partial(handlers.on_timer, deps=deps),
            emits=(DeliberationConcluded,),
            filter_subject=subjects.filter_for(PhaseDue, owner="gate"),
            max_deliver=-1,
        ),
    )
