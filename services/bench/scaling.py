"""``nsed bench scaling``: do more runner replicas of the same agents finish more work?

Three simulated agents with a fixed 200 ms latency and a concurrency of 2 per runner; the
same workload (``tasks`` concurrent tasks of ``rounds`` rounds, a team of 3) runs once with
one runner per agent and once with four, each on a fresh stack of processes. The replicas
share each agent's durable consumer; ``speedup_4x`` is the ratio of the two wall times.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from schemas.task import Policy
from services.bench import driver
from services.bench.harness import process_stack
from services.bench.report import machine

AGENT = """
[[agents]]
id = "{id}"
model = "{id}"
family = "{id}"
max_concurrency = 2
[agents.sim]
p_g = 0.6
p_v = 0.8
latency_median_s = 0.2
latency_sigma = 0.0
reasoning_tokens = 40
seed = {seed}
"""
AGENTS = ("scale-a", "scale-b", "scale-c")


async def workload(replicas: int, pool: Path, tasks: int, rounds: int) -> float:
    async with process_stack(pool, agents=AGENTS, replicas=replicas) as bench:
        collector, sub = await driver.listen(bench.nc)
        policy = Policy(
            team_size=3, min_rounds=rounds, max_rounds=rounds, deadline_s=600, phase_timeout_s=300
        )
        ids = [f"scale{replicas}-{i}" for i in range(tasks)]
        started = driver.now()
        for task_id in ids:
            await driver.submit(bench.nc, driver.task(task_id, policy))
        results = await asyncio.gather(*(collector.wait(t, timeout=600) for t in ids))
        elapsed = driver.now() - started
        await sub.unsubscribe()
    if any(r is None for r in results):
        raise RuntimeError(f"{sum(r is None for r in results)} tasks got no result")
    return elapsed


async def run(tasks: int = 48, rounds: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nsed-scaling-") as tmp:
        pool = Path(tmp) / "pool.toml"
        pool.write_text("".join(AGENT.format(id=a, seed=i) for i, a in enumerate(AGENTS)))
        one = await workload(1, pool, tasks, rounds)
        four = await workload(4, pool, tasks, rounds)
    calls = tasks * rounds * 2  # per agent: one proposal and one review per round
    return {
        "suite": "scaling",
        "speedup_4x": round(one / four, 2),
        "elapsed_1x_s": round(one, 2),
        "elapsed_4x_s": round(four, 2),
        "ideal_1x_s": round(calls * 0.2 / 2, 2),  # 200 ms per call, 2 at a time
        "tasks": tasks,
        "rounds": rounds,
        "machine": machine(),
    }
