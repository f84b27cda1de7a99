"""``nsed bench broker``: CP-SAT team-selection time at 10 to 5 000 candidate agents.

Each solve gets a fresh synthetic pool (seeded): values, prices and latencies drawn at
random, about five agents per model family, a team of 3 with at most one per family and a
budget that binds for some pools. The time is the whole ``select_team`` call (model build,
solve, extraction), as the broker pays it.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from typing import Any

from schemas.task import Policy
from schemas.team import AgentCard
from services.bench.report import machine
from services.broker.selection import NoTeam, select_team
from services.broker.valuation import Candidate

SIZES = (10, 100, 1000, 5000)
REPEATS = {10: 60, 100: 60, 1000: 30, 5000: 10}


def synthetic_pool(n: int, rng: random.Random) -> list[Candidate]:
    families = max(2, n // 5)
    pool = []
    for i in range(n):
        agent_id = f"agent-{i:05d}"
        family = f"family-{rng.randrange(families)}"
        cost = rng.uniform(0.00005, 0.005)
        card = AgentCard(
            agent_id=agent_id, instance_id="bench", model=agent_id, family=family, backend="sim"
        )
        pool.append(
            Candidate(
                agent_id=agent_id,
                family=family,
                value=rng.uniform(0.2, 1.0),
                round_cost_usd=cost,
                latency_p95_s=rng.uniform(0.5, 20.0),
                capacity=rng.randrange(0, 4),
                capabilities=frozenset(),
                card=card,
            )
        )
    return pool


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(sizes: tuple[int, ...] = SIZES, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    results = []
    for n in sizes:
        times: list[float] = []
        statuses: Counter[str] = Counter()
        for _ in range(REPEATS.get(n, 10)):
            pool = synthetic_pool(n, rng)
            policy = Policy(
                team_size=3, min_team=2, max_rounds=6, budget_usd=rng.choice([None, 0.01, 0.03])
            )
            started = time.perf_counter()
            result = select_team(pool, policy, phase_timeout_s=15.0)
            times.append((time.perf_counter() - started) * 1000)
            statuses["NO_TEAM" if isinstance(result, NoTeam) else result.status] += 1
        results.append(
            {
                "candidates": n,
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(percentile(times, 0.95), 2),
                "status": statuses.most_common(1)[0][0],
                "statuses": dict(statuses),
                "solves": len(times),
            }
        )
    return {"suite": "broker", "seed": seed, "results": results, "machine": machine()}
