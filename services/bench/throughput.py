"""``nsed bench throughput``: rounds per second with many concurrent tasks.

A team of 3 from the default pool, simulated agents at zero latency, the services as
separate processes (as ``make up`` runs them), tasks of 3 rounds kept ``in_flight`` at a
time. Every task must get exactly one result: ``lost`` counts tasks that got none within
the time limit, ``duplicates`` the results beyond the first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.task import Policy
from services.bench import bounds, driver
from services.bench.cpu import CpuMeter, profile
from services.bench.harness import DEFAULT_POOL, process_stack
from services.bench.report import machine


async def run(tasks: int = 300, rounds: int = 3, in_flight: int = 100) -> dict[str, Any]:
    env = {"NSED_AGENT_RUNNER_LATENCY_SCALE": "0"}
    async with process_stack(DEFAULT_POOL, env=env) as bench:
        collector, sub = await driver.listen(bench.nc)
        policy = Policy(team_size=3, min_rounds=rounds, max_rounds=rounds, deadline_s=600)
        gate = asyncio.Semaphore(in_flight)
        ids = [f"throughput-{i}" for i in range(tasks)]

        async def one(task_id: str) -> None:
            async with gate:
                await driver.submit(bench.nc, driver.task(task_id, policy))
                await collector.wait(task_id, timeout=300)

        meter = CpuMeter.of(bench.pids())
        meter.start()
        started = driver.now()
        await asyncio.gather(*(one(t) for t in ids))
        elapsed = driver.now() - started
        used = meter.stop()
        await asyncio.sleep(1.0)  # a duplicate would arrive after its original
        await sub.unsubscribe()
    answered = [collector.results[t] for t in ids if t in collector.results]
    total_rounds = sum(r.rounds for r in answered)
    report: dict[str, Any] = {
        "suite": "throughput",
        "rounds_per_s": round(total_rounds / elapsed, 1),
        "tasks_per_s": round(len(answered) / elapsed, 2),
        "tasks": tasks,
        "rounds_per_task": rounds,
        "in_flight": in_flight,
        "lost": tasks - len(answered),
        "duplicates": sum(max(n - 1, 0) for n in collector.counts.values()),
        "elapsed_s": round(elapsed, 2),
        "cpu": profile(used, max(total_rounds, 1), elapsed, meter.machine_s),
        "machine": machine(),
    }
    report["bound"] = bounds.throughput(report).as_dict()
    return report
