"""A pool of simulated agents that each take exactly ``latency_s`` a call, ``slots`` calls
at a time: a pool that a burst of tasks saturates, at a rate known in advance."""

from __future__ import annotations

from pathlib import Path

AGENTS = ("slow-a", "slow-b", "slow-c")


def slow_pool(path: Path, slots: int = 2, latency_s: float = 0.2) -> Path:
    path.write_text(
        "\n".join(
            f'[[agents]]\nid = "{agent}"\nmodel = "{agent}"\nfamily = "{agent}"\n'
            f"max_concurrency = {slots}\n[agents.sim]\nlatency_median_s = {latency_s}\n"
            f"latency_sigma = 0.0\nseed = {n}\n"
            for n, agent in enumerate(AGENTS, 1)
        )
    )
    return path
