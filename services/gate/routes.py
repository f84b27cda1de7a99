"""Gate routes: tallies → ``on_tally``; the task-deadline timers → ``on_timer``."""

from __future__ import annotations

from schemas.gate import CancelRequested, DeliberationConcluded
from schemas.outputs import GateOutcome, members
from schemas.tally import TallyComputed
from services._runtime.route import Route, on_message, timer_route
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
        timer_route("gate", handlers.on_timer, deps, (DeliberationConcluded,)),
    )
