"""Agent-runner routes: this agent's work subject → ``on_work`` → proposal / review."""

from __future__ import annotations

from schemas import subjects
from schemas.outputs import AgentOutput, AgentWork, members
from services._runtime.route import Route, on_message
from services.agent_runner import handlers
from services.agent_runner.handlers import RunnerDeps


def consumer_name(agent_id: str) -> str:
    return f"agent-{agent_id}"


def routes(deps: RunnerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name=consumer_name(deps.profile.id),
            consumes=members(AgentWork),
            handler=on_message(handlers.on_work, deps),
            emits=members(AgentOutput),
            filter_subject=subjects.agent_work(deps.profile.id),
            concurrency=deps.profile.max_concurrency,
            long_running=True,
        ),
    )
