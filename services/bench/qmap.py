"""``nsed bench map``: where deliberation pays, over a grid of generation precision p_g and
verification precision p_v.

Each cell is a team of three simulated agents of that (p_g, p_v) (three families, the
default pool's sycophancy and fatigue), on the services in memory of its own
(``study.services_bus``), on the same GSM8K
problems: ``nsed`` with its halting rule against ``majority`` (one proposal each) and
``majority_equal_tokens`` (as many samples of the team in turn as nsed's mean token spend
buys). ``delta`` is nsed's accuracy minus the equal-cost baseline's; with the same
problems and paired first answers its standard error is estimated from the per-task
differences. The truth reaches a deliberation only through reviews, so at p_v = 0.5 nsed
has nothing to gain over sampling: the map says where it does and where it does not.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.task import Policy
from services.bench import study
from services.bench.report import machine

P_G = (0.35, 0.55, 0.75)
P_V = (0.5, 0.6, 0.7, 0.8, 0.95)
TEAM = ("sim-a", "sim-b", "sim-c")


def pool_text(p_g: float, p_v: float) -> str:
    """A pool of three simulated agents with the same precisions (three families)."""
    return "\n".join(
        f"""
[[agents]]
id = "{agent}"
model = "{agent}"
family = "{agent}"
max_concurrency = 64
[agents.sim]
p_g = {p_g}
p_v = {p_v}
sycophancy = 0.2
fatigue_g = 0.01
fatigue_v = 0.01
latency_median_s = 0.0
reasoning_tokens = 200
seed = {seed}
"""
        for seed, agent in enumerate(TEAM, start=41)
    )


def paired_delta(a: study.Batch, b: study.Batch) -> tuple[float, float]:
    """Mean of a's per-task correctness minus b's, and its standard error."""
    diffs = [float(bool(a.results[k].correct)) - float(bool(b.results[k].correct))
             for k in a.results]  # fmt: skip
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / max(n - 1, 1)
    return mean, math.sqrt(var / n)


async def cell(p_g: float, p_v: float, problems: Sequence[study.Problem]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nsed-map-") as tmp:
        pool = Path(tmp) / "pool.toml"
        pool.write_text(pool_text(p_g, p_v))
        bus = study.services_bus(pool, TEAM)
    nsed = await study.run_batch(
        bus, problems, "nsed", Policy(team=TEAM, max_rounds=6, deadline_s=3600)
    )
    majority = await study.run_batch(
        bus, problems, "majority", Policy(protocol="vote", team=TEAM, deadline_s=3600)
    )
    samples = study.equal_token_samples(
        nsed.tokens_per_task(), majority.tokens_per_task() / len(TEAM), len(TEAM)
    )
    equal = await study.run_batch(
        bus,
        problems,
        "majority_equal_tokens",
        Policy(protocol="vote", team=study.round_robin(TEAM, samples), deadline_s=3600),
    )
    delta, stderr = paired_delta(nsed, equal)
    return {
        "p_g": p_g,
        "p_v": p_v,
        "nsed": round(nsed.accuracy(), 4),
        "nsed_rounds": round(nsed.rounds_per_task(), 2),
        "nsed_tokens_per_task": round(nsed.tokens_per_task(), 1),
        "majority": round(majority.accuracy(), 4),
        "majority_equal_tokens": round(equal.accuracy(), 4),
        "samples": samples,
        "delta": round(delta, 4),
        "stderr": round(stderr, 4),
        "verdict": verdict(delta, stderr),
    }


def verdict(delta: float, stderr: float) -> str:
    """Better or worse beyond two standard errors, else even."""
    if delta > 2 * stderr:
        return "nsed better"
    if delta < -2 * stderr:
        return "nsed worse"
    return "even"


async def run(
    tasks: int = 100, p_g: Sequence[float] = P_G, p_v: Sequence[float] = P_V
) -> dict[str, Any]:
    problems = study.load_gsm8k(tasks)
    cells = [await cell(g, v, problems) for g in p_g for v in p_v]
    return {
        "suite": "quality_map",
        "tasks": tasks,
        "dataset": "gsm8k test (first N problems)",
        "simulated": True,
        "team_size": len(TEAM),
        "cells": cells,
        "table": table(cells),
        "machine": machine(),
    }


def table(cells: Sequence[dict[str, Any]]) -> str:
    """Markdown: nsed − majority_equal_tokens (± stderr) by p_g (rows) and p_v (columns)."""
    p_gs = sorted({c["p_g"] for c in cells})
    p_vs = sorted({c["p_v"] for c in cells})
    by = {(c["p_g"], c["p_v"]): c for c in cells}
    head = "| p_g \\ p_v | " + " | ".join(f"{v:g}" for v in p_vs) + " |\n"
    head += "|---:|" + "---:|" * len(p_vs) + "\n"
    rows = []
    for g in p_gs:
        parts = []
        for v in p_vs:
            c = by[(g, v)]
            mark = {"nsed better": "**", "nsed worse": "_", "even": ""}[c["verdict"]]
            parts.append(f"{mark}{c['delta']:+.3f}{mark} ±{c['stderr']:.3f}")
        rows.append(f"| {g:g} | " + " | ".join(parts) + " |\n")
    return head + "".join(rows)
