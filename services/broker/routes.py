"""Broker routes: tasks → ``on_task``; continued rounds → ``on_continued``."""

from __future__ import annotations

from functools import partial

from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposeRequested
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime.route import Route
from services.broker import handlers
from services.broker.handlers import BrokerDeps


def routes(deps: BrokerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="broker-tasks",
            consumes=(TaskSubmitted,),
            handler=partial(handlers.on_task, deps=deps),
            emits=(
                TeamSelected,
                ProposeRequested,
                PhaseDue,
                DeliberationConcluded,
                TaskRefused,
                DeadLetter,
            ),
            on_reject=partial(handlers.reject_task, deps=deps),
            trace_parent=handlers.intake_parent,
            long_running=True,  # a task may be held until the pool has room (admission)
        ),
        Route(
            name="broker-continued",
            consumes=(RoundContinued,),
            handler=partial(handlers.on_continued, deps=deps),
            emits=(TeamSelected, ProposeRequested, PhaseDue),
        ),
    )
