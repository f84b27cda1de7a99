"""Broker routes: tasks → ``on_task``; continued rounds → ``on_continued``."""

from __future__ import annotations

from functools import partial

from schemas.gate import RoundContinued
from schemas.outputs import Dispatch, Intake, members
from schemas.task import TaskSubmitted
from services._runtime.route import Route, on_delivery, on_message
from services.broker import handlers
from services.broker.handlers import BrokerDeps


def routes(deps: BrokerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="broker-tasks",
            consumes=(TaskSubmitted,),
            handler=on_delivery(handlers.on_task, deps),
            emits=members(Intake),
            on_reject=partial(handlers.reject_task, deps=deps),
            trace_parent=handlers.intake_parent,
            long_running=True,  # a task may be held until the pool has room (admission)
        ),
        Route(
            name="broker-continued",
            consumes=(RoundContinued,),
            handler=on_message(handlers.on_continued, deps),
            emits=members(Dispatch),
        ),
    )
