"""The gateway's handlers: the models a client may name, and a task deliberated for it.

``Council.deliberate`` publishes a task and yields its events until its result, through
two ports: a ``Feed`` (``follow``: the task's events) and an ``Outbox`` (``submit``,
``cancel``). Whatever ends it, a deliberation never runs on without a record of the client
that asked for it: when the request ends without the task's result (the client went away,
the gateway stopped, the deadline passed), the task is cancelled; the gate then ends it
as ``cancelled`` with what it cost. Waits: ``team_wait_s`` for the team, then the task's
deadline plus ``result_grace_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from schemas.gate import DeliberationConcluded
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from services.broker.registry import LiveAgent
from services.gateway.conversation import MODELS
from services.gateway.errors import DeadlineExceeded, Failed, NoTeam
from services.gateway.settings import GatewaySettings

log = structlog.get_logger("gateway")
CANCEL_TIMEOUT_S = 5.0


class Events(Protocol):
    def live_agents(self) -> list[LiveAgent]: ...

    async def appeared(self, task_id: str, timeout: float) -> bool: ...

    def follow(self, task_id: str) -> AbstractAsyncContextManager[AsyncIterator[Any]]: ...


class Tasks(Protocol):
    async def submit(self, task: TaskSubmitted, traceparent: str | None) -> None: ...

    async def cancel(self, task_id: str, reason: str) -> None: ...


@dataclass
class Council:
    feed: Events
    outbox: Tasks
    settings: GatewaySettings
    clock: Callable[[], float] = time.time
    cancelling: set[asyncio.Task[None]] = field(default_factory=set)

    def models(self) -> dict[str, Any]:
        """OpenAI's model list: one per protocol, each with the live pool behind it."""
        pool = [
            {"id": a.agent_id, "model": a.card.model, "family": a.card.family}
            for a in self.feed.live_agents()
        ]
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "nsed",
                    "nsed": {"protocol": protocol, "agents": pool},
                }
                for name, protocol in MODELS.items()
            ],
        }

    def check_pool(self) -> None:
        """A task for an empty pool is not sent: nothing could answer it."""
        if not self.feed.live_agents():
            raise NoTeam("no live agents: start some (make up, or nsed agent run)")

    async def deliberate(
        self, task: TaskSubmitted, traceparent: str | None
    ) -> AsyncGenerator[Any, None]:
        """Publish ``task`` and yield each of its events, its ``DeliberationConcluded``
        last. Raises ``NoTeam`` when refused, ``DeadlineExceeded`` when nothing came in
        time; either way, and when the caller stops early, the task is cancelled."""
        assert task.task_id is not None
        ended = False
        try:
            async with self.feed.follow(task.task_id) as events:
                await self.outbox.submit(task, traceparent)
                started = self.clock()
                until = started + self.settings.team_wait_s
                while True:
                    event = await self._next(events, until)
                    if isinstance(event, TaskRefused):
                        raise Failed(f"refused: {event.reason}")
                    if isinstance(event, TeamSelected) and event.round <= 1:
                        until = self._deadline(task, event, started)
                    ended = isinstance(event, DeliberationConcluded)
                    yield event
                    if ended:
                        return
        finally:
            if not ended:
                self._cancel_later(task.task_id, "the client's request ended before the task")

    async def _next(self, events: AsyncIterator[Any], until: float) -> Any:
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for drops a cancellation that
        # comes as the event does, and the request would outlive its client.
        try:
            async with asyncio.timeout(max(until - self.clock(), 0.0)):
                return await anext(events)
        except TimeoutError as exc:
            raise DeadlineExceeded("no answer by the deadline; the task was cancelled") from exc

    def _deadline(self, task: TaskSubmitted, team: TeamSelected, started: float) -> float:
        if task.policy.deadline_s is not None:
            return started + task.policy.deadline_s + self.settings.result_grace_s
        if team.deadline_at is not None:
            return team.deadline_at + self.settings.result_grace_s
        return started + self.settings.team_wait_s

    def _cancel_later(self, task_id: str, reason: str) -> None:
        """Cancel off the request's own task: it may itself be the one being cancelled.

        The gate can only cancel a task whose record exists (it dead-letters any other
        cancel), so a cancel sent before the broker took the task waits for its record,
        up to ``team_wait_s``."""

        async def cancel() -> None:
            try:
                await self.feed.appeared(task_id, self.settings.team_wait_s)
                await asyncio.wait_for(self.outbox.cancel(task_id, reason), CANCEL_TIMEOUT_S)
                log.info("task_cancelled", task_id=task_id, reason=reason)
            except Exception as exc:
                log.error("cancel_failed", task_id=task_id, error=repr(exc))

        job = asyncio.get_running_loop().create_task(cancel())
        self.cancelling.add(job)
        job.add_done_callback(self.cancelling.discard)

    async def settle(self) -> None:
        """Wait for the cancellations still being published (shutdown: before NATS drains)."""
        if self.cancelling:
            await asyncio.wait(set(self.cancelling), timeout=CANCEL_TIMEOUT_S)
