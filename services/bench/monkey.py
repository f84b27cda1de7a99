"""The chaos monkey: ``kill -9`` of a random service or runner of a supervised stack every
few seconds, and of ``nats-server`` (in a cluster: one node) once, when asked.

Consumes supervisord's process table (``SupervisedBench.running``) and a seeded random
source. Emits a log of its kills (when, which program, which pid) and the NATS restarts it
saw: supervisord restarts whatever it kills; the monkey kills only programs that are
RUNNING, so it never kills one still starting (which supervisord would count against the
program's start retries).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.bench.supervised import SupervisedBench, is_nats

RESTART_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Kill:
    at_s: float  # since the monkey started
    program: str
    pid: int
    answered: int  # results in by then

    def as_json(self) -> dict[str, object]:
        return {
            "at_s": round(self.at_s, 2),
            "program": self.program,
            "pid": self.pid,
            "answered": self.answered,
        }


@dataclass
class Monkey:
    bench: SupervisedBench
    rng: random.Random
    every_s: float
    answered: Callable[[], int]  # results in so far
    nats_after: int  # kill NATS (once) when this many results are in: mid-run
    kills: list[Kill] = field(default_factory=list)
    nats_restarts: int = 0
    nats_outage_s: float = 0.0
    _started: float = field(default_factory=time.monotonic)

    @property
    def nats_killed(self) -> bool:
        return any(is_nats(k.program) for k in self.kills)

    async def run(self, stop: asyncio.Event) -> None:
        self._started = time.monotonic()
        while True:
            pause = self.every_s * self.rng.uniform(0.5, 1.5)
            try:
                await asyncio.wait_for(stop.wait(), pause)
                return
            except TimeoutError:
                pass  # the pause is the monkey's cadence: time for its next kill
            running = await self.bench.running()
            if not self.nats_killed and self.answered() >= self.nats_after:
                await self._kill_nats(running)
                continue
            victims = sorted(name for name in running if not is_nats(name))
            if victims:
                name = self.rng.choice(victims)
                self._kill(name, running[name])

    def _kill(self, program: str, pid: int) -> None:
        self.bench.kill9(pid)
        self.kills.append(Kill(time.monotonic() - self._started, program, pid, self.answered()))

    async def _kill_nats(self, running: dict[str, int]) -> None:
        nodes = sorted(name for name in running if is_nats(name))
        if not nodes:
            return
        node = self.rng.choice(nodes)
        killed_at = time.monotonic()
        self._kill(node, running[node])
        if await self._restarted(node, running[node]):
            self.nats_restarts += 1
            self.nats_outage_s = time.monotonic() - killed_at

    async def _restarted(self, program: str, old_pid: int) -> bool:
        """Whether supervisord has ``program`` RUNNING again, under a new pid."""
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while time.monotonic() < deadline:
            pid = (await self.bench.running()).get(program)
            if pid is not None and pid != old_pid:
                return True
            await asyncio.sleep(0.1)
        return False

    def by_program(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kill in self.kills:
            counts[kill.program] = counts.get(kill.program, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


async def all_running(bench: SupervisedBench, timeout: float = RESTART_TIMEOUT_S) -> list[str]:
    """Wait until every program is RUNNING; the programs that are not by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        programs = await bench.programs()
        running = await bench.running()
        down = [name for name in programs if name not in running]
        if not down or time.monotonic() > deadline:
            return down
        await asyncio.sleep(0.2)
