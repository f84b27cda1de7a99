"""The NSED services as asyncio tasks in the test's own event loop (integration tier).

Each service gets its own stop event, so a test can start and stop them one by one, exactly
as separate processes would be (they share nothing but NATS)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.agent_runner.service import serve_agent
from services.agent_runner.settings import AgentRunnerSettings
from services.broker.service import serve_broker
from services.broker.settings import BrokerSettings
from services.gate.service import serve_gate
from services.gate.settings import GateSettings
from services.gateway.service import serve_gateway
from services.gateway.settings import GatewaySettings
from services.reviewer.service import serve_reviewer
from services.reviewer.settings import ReviewerSettings
from services.voter.service import serve_voter
from services.voter.settings import VoterSettings

POOL = Path(__file__).resolve().parent.parent / "data" / "pool.toml"

Serve = Callable[[Any, asyncio.Event], Coroutine[Any, Any, None]]
SERVICES: dict[str, tuple[Serve, type]] = {
    "broker": (serve_broker, BrokerSettings),
    "reviewer": (serve_reviewer, ReviewerSettings),
    "voter": (serve_voter, VoterSettings),
    "gate": (serve_gate, GateSettings),
}
FAST = {"ack_wait_s": 2.0, "shutdown_grace_s": 3.0}


@dataclass
class Running:
    task: asyncio.Task[None]
    stop: asyncio.Event


@dataclass
class InProcessServices:
    url: str
    pool: Path = POOL
    latency_scale: float = 1.0
    # Span and metric files go here, never into the checkout's .nsed/.
    home: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="nsed-test-"))
    running: dict[str, Running] = field(default_factory=dict)

    def _launch(self, name: str, coro: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
        self.running[name] = Running(asyncio.create_task(coro, name=name), stop)

    def start_service(self, name: str, replica: int = 0, **overrides: Any) -> str:
        """Start one replica of a service; returns the key to stop it by (the service's name
        for replica 0, ``<name>-<replica>`` for the others)."""
        serve, settings_type = SERVICES[name]
        stop = asyncio.Event()
        settings = settings_type(nats_url=self.url, home=self.home, **{**FAST, **overrides})
        key = name if replica == 0 else f"{name}-{replica}"
        self._launch(key, serve(settings, stop), stop)
        return key

    def start_agent(self, agent_id: str, name: str | None = None, **overrides: Any) -> str:
        stop = asyncio.Event()
        settings = AgentRunnerSettings(
            nats_url=self.url,
            home=self.home,
            latency_scale=self.latency_scale,
            **{**FAST, **overrides},
        )
        key = name or f"agent-{agent_id}"
        self._launch(
            key, serve_agent(settings, stop, pool_path=str(self.pool), agent_id=agent_id), stop
        )
        return key

    def start_all(
        self, agents: tuple[str, ...] = ("alpha", "bravo", "charlie"), replicas: int = 1
    ) -> None:
        """Every service and a runner per agent, ``replicas`` times over."""
        for replica in range(replicas):
            for name in SERVICES:
                self.start_service(name, replica)
            for agent in agents:
                self.start_agent(agent, None if replica == 0 else f"agent-{agent}-{replica}")

    def start_gateway(self, port: int, name: str = "gateway", **overrides: Any) -> str:
        """One gateway replica on ``127.0.0.1:port`` (not part of ``start_all``)."""
        stop = asyncio.Event()
        settings = GatewaySettings(
            nats_url=self.url, home=self.home, port=port, **{**FAST, **overrides}
        )
        self._launch(name, serve_gateway(settings, stop), stop)
        return name

    async def stop(self, name: str, timeout: float = 15.0) -> None:
        running = self.running.pop(name)
        running.stop.set()
        await asyncio.wait_for(running.task, timeout=timeout)

    async def cancel(self, name: str) -> None:
        """Stop without any graceful step (the nearest an event loop gets to kill -9)."""
        running = self.running.pop(name)
        running.task.cancel()
        with contextlib.suppress(BaseException):
            await running.task

    def failures(self) -> list[BaseException]:
        return [
            r.task.exception()
            for r in self.running.values()
            if r.task.done() and not r.task.cancelled() and r.task.exception()
        ]  # type: ignore[misc]

    async def close(self) -> None:
        # All at once: each may wait out its grace period for work in hand.
        names = list(self.running)
        await asyncio.gather(*(self.stop(name) for name in names), return_exceptions=True)
