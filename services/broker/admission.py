"""Admission: the broker starts a new task only while the pool keeps up with its work.

Consumes the live pool (the registry: each agent's slots, its instances' summed
``max_concurrency``) and the work waiting for each agent (``num_pending`` of its durable
consumer on ``NSED_WORK``, polled). Emits a wait: ``room()`` returns at once while no live
agent has ``queue_per_slot`` × its slots or more work items waiting, and otherwise when
that is so again. Until then the tasks wait on ``NSED_TASKS``, unstarted: their deadlines
have not begun, so a burst of tasks is worked through at the rate the agents allow instead
of starting every task at once and timing out most of their phases while the work queues.

Work for tasks already started (their next rounds) is never held back. A pool whose
counts cannot be read (NATS away) is not held back either: ``STALE_S`` after the last good
poll the wait opens, so that admission never becomes the reason nothing runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import structlog
from nats.js import JetStreamContext

from schemas import subjects
from services.broker.registry import LiveAgent, Registry

log = structlog.get_logger("admission")
STALE_S = 5.0
CONSUMER_PREFIX = "agent-"  # the runner's durable consumer: agent-<agent id>


def saturated(
    live: Sequence[LiveAgent], waiting: Mapping[str, int], queue_per_slot: float
) -> list[str]:
    """The live agents with ``queue_per_slot`` × their slots or more work waiting (pure).
    ``queue_per_slot`` 0 holds nothing back. An agent that is not live holds nothing back:
    its queue waits for a runner, not for the pool to keep up."""
    if queue_per_slot <= 0:
        return []
    full = []
    for agent in live:
        slots = agent.card.max_concurrency * agent.instances  # instances share a profile
        if waiting.get(agent.agent_id, 0) >= max(queue_per_slot * slots, 1.0):
            full.append(agent.agent_id)
    return full


class Admission:
    def __init__(
        self,
        registry: Registry,
        *,
        queue_per_slot: float,
        poll_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.queue_per_slot = queue_per_slot
        self.poll_s = poll_s
        self.clock = clock
        self.waiting: dict[str, int] = {}
        self.polled_at: float | None = None  # the last good poll
        # Work this process queued since that poll, which it cannot show yet: proposals of
        # the tasks it started, and one item on every agent for each task still starting.
        self.since_poll: Counter[str] = Counter()
        self.starting = 0
        self._tick = asyncio.Event()
        self._held_since: float | None = None

    def full(self) -> list[str]:
        """The agents that hold new tasks back now ([] when the counts are stale)."""
        if self.polled_at is None or self.clock() - self.polled_at > STALE_S:
            return []
        live = self.registry.live()
        waiting = {
            a.agent_id: self.waiting.get(a.agent_id, 0)
            + self.since_poll[a.agent_id]
            + self.starting
            for a in live
        }
        return saturated(live, waiting, self.queue_per_slot)

    async def room(self) -> float:
        """Wait until a new task may start; the seconds waited. Every ``room()`` must be
        followed by ``seated()``, once the task has started (or failed to)."""
        started = self.clock()
        while self.full():
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                # The next poll, or STALE_S on: the counts are then too old to hold by.
                await asyncio.wait_for(tick.wait(), STALE_S)
        self.starting += 1  # no await since the check: the next caller counts this one
        return self.clock() - started

    def seated(self, agents: Sequence[str]) -> None:
        """The task ``room()`` let in has queued one proposal for each of ``agents``."""
        self.starting = max(self.starting - 1, 0)
        self.since_poll.update(agents)

    def update(self, waiting: Mapping[str, int], counted: Counter[str] | None = None) -> None:
        """A poll's counts, which include ``counted`` (what ``since_poll`` was when the poll
        was asked): log when tasks start and stop being held back, wake the waiters."""
        self.waiting = dict(waiting)
        self.polled_at = self.clock()
        if counted is None:
            self.since_poll.clear()
        else:
            self.since_poll = +(self.since_poll - counted)
        full = self.full()
        if full and self._held_since is None:
            self._held_since = self.polled_at
            log.info("intake_paused", saturated=full, work_waiting=sum(waiting.values()))
        elif not full and self._held_since is not None:
            log.info("intake_resumed", paused_s=round(self.polled_at - self._held_since, 2))
            self._held_since = None
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def poll(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        """Read the work waiting for each agent every ``poll_s`` until ``stop``."""
        while not stop.is_set():
            asked = self.since_poll.copy()
            with contextlib.suppress(Exception):  # NATS away: the counts go stale, and open
                self.update(await waiting_work(js), asked)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)  # the polling period


async def waiting_work(js: JetStreamContext) -> dict[str, int]:
    """Work items no runner has taken yet, per agent."""
    found: dict[str, int] = {}
    for consumer in await js.consumers_info(subjects.NSED_WORK):
        name = consumer.name or ""
        if name.startswith(CONSUMER_PREFIX):
            found[name[len(CONSUMER_PREFIX) :]] = consumer.num_pending or 0
    return found
