"""Agent-runner routes: this agent's work subject → ``on_work`` → proposal / review."""

from __future__ import annotations

from functools import partial

from schemas import subjects
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from services._runtime.route import Route
from services.agent_runner import handlers
from services.agent_runner.handlers import RunnerDeps


def consumer_name(agent_id: str) -> str:
    return f"agent-{agent_id}"


def routes(deps: RunnerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name=consumer_name(deps.profile.id),
            consumes=(ProposeRequested, ReviewRequested),
            handler=partial(handlers.on_work, deps=deps),
            emits=(ProposalSubmitted, ReviewSubmitted),
            filter_subject=subjects.agent_work(deps.profile.id),
            concurrency=deps.profile.max_concurrency,
            long_running=True,
        ),
    )
