"""A private stack for one benchmark: its own nats-server on a free port, the services
in-process (one event loop), the agents of a pool; torn down afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from services._runtime import bus
from services.agent_runner.config import load_pool
from services.agent_runner.service import serve_agent
from services.agent_runner.settings import AgentRunnerSettings
from services.broker.service import serve_broker
from services.broker.settings import BrokerSettings
from services.gate.service import serve_gate
from services.gate.settings import GateSettings
from services.reviewer.service import serve_reviewer
from services.reviewer.settings import ReviewerSettings
from services.stack import health
from services.stack.natsserver import NatsProcess
from services.stack.processes import ProcessStack
from services.voter.service import serve_voter
from services.voter.settings import VoterSettings

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POOL = ROOT / "infra" / "agents" / "sim.toml"
QUIET = "warning"


@dataclass
class PrivateStack:
    url: str
    nc: Client
    agents: tuple[str, ...]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def private_stack(
    pool: Path = DEFAULT_POOL,
    *,
    agents: Sequence[str] | None = None,
    latency_scale: float = 0.0,
    runner_replicas: int = 1,
    concurrency: int = 32,
) -> AsyncIterator[PrivateStack]:
    ids = tuple(agents or [a.id for a in load_pool(pool).agents])
    with tempfile.TemporaryDirectory(prefix="nsed-bench-") as tmp:
        server = NatsProcess(Path(tmp) / "nats").start()
        stop = asyncio.Event()
        common: dict[str, Any] = {
            "nats_url": server.url,
            "home": str(Path(tmp) / "home"),
            "log_level": QUIET,
            "concurrency": concurrency,
        }
        starters: list[Callable[[], Coroutine[Any, Any, None]]] = [
            lambda: serve_broker(BrokerSettings(**common), stop),
            lambda: serve_reviewer(ReviewerSettings(**common), stop),
            lambda: serve_voter(VoterSettings(**common), stop),
            lambda: serve_gate(GateSettings(**common), stop),
        ]
        runner = AgentRunnerSettings(**common, latency_scale=latency_scale)
        for agent in ids:
            for _ in range(runner_replicas):
                starters.append(
                    partial(serve_agent, runner, stop, pool_path=str(pool), agent_id=agent)
                )
        tasks = [asyncio.create_task(start()) for start in starters]
        nc = await bus.connect(server.url, "nsed-bench")
        try:
            missing = await health.wait_healthy(server.url, ids, timeout=60.0)
            if missing:
                raise RuntimeError(f"private stack not healthy: {', '.join(missing)}")
            yield PrivateStack(url=server.url, nc=nc, agents=ids, tasks=tasks)
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=15)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await nc.close()
            server.stop()


@dataclass
class ProcessBench:
    url: str
    nc: Client
    stack: ProcessStack
    server: NatsProcess

    def pids(self) -> dict[str, int]:
        """Every process of the stack by name, nats-server included."""
        pids = {name: proc.pid for name, proc in self.stack.procs.items()}
        if self.server.proc is not None:
            pids["nats-server"] = self.server.proc.pid
        return pids


@contextlib.asynccontextmanager
async def process_stack(
    pool: Path = DEFAULT_POOL,
    *,
    agents: Sequence[str] | None = None,
    replicas: int = 1,
    env: dict[str, str] | None = None,
) -> AsyncIterator[ProcessBench]:
    """A private stack as separate processes, as ``make up`` runs it (without supervisord)."""
    ids = tuple(agents or [a.id for a in load_pool(pool).agents])
    with tempfile.TemporaryDirectory(prefix="nsed-bench-") as tmp:
        server = NatsProcess(Path(tmp) / "nats").start()
        stack = ProcessStack(url=server.url, pool=pool, logs=Path(tmp) / "logs", env=env or {})
        nc = await bus.connect(server.url, "nsed-bench")
        try:
            stack.start_all(ids, replicas=replicas)
            missing = await health.wait_healthy(server.url, ids, timeout=90.0)
            if missing:
                raise RuntimeError(f"bench stack not healthy: {', '.join(missing)}")
            yield ProcessBench(url=server.url, nc=nc, stack=stack, server=server)
        finally:
            await nc.close()
            stack.stop_all()
            server.stop()
