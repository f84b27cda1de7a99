"""Gate routes: tallies → ``on_tally``; the task-deadline timers → ``on_timer``."""

from __future__ import annotations

from schemas import subjects
from schemas.gate import CancelRequested, DeliberationConcluded
from schemas.outputs import GateOutcome, members
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.route import Route, on_message
from services.gate import handlers
from services.gate.handlers import GateDeps


def routes(deps: GateDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="gate-tallies",
            consumes=(TallyComputed,),
            handler=on_message(handlers.on_tally, deps),
            emits=members(GateOutcome),
        ),
        Route(
            name="gate-cancels",
            consumes=(CancelRequested,),
            handler=on_message(handlers.on_cancel, deps),
            emits=(DeliberationConcluded,),
        ),
        Route(
            name="gate-timers",
            consumes=(PhaseDue,),
            handler=on_message(handlers.on_timer, deps),
            emits=(DeliberationConcluded,),
            filter_subject=subjects.filter_for(PhaseDue, owner="gate"),
            max_deliver=-1,
        ),
    )
