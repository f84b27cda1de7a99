"""``latency_share``: how much of a round at a realistic model latency is not model time.

With real models a round should last as long as its slowest calls, not their sum, and no
longer. Every reviewer needs every proposal (it reviews all the others, and its own is
shown to it), so a round's calls come in two waves, and the least a round can take is its
slowest proposal plus its slowest review: its ``model_path_s``. ``latency_share`` is what
is left, ``1 − Σ model path / Σ round time`` over the measured rounds: the share of the
rounds' time spent on dispatch, validation, the tally, the gate and the broker's next
round, or on calls waiting for a slot (target ≤ 0.02).

Consumes each call's latency as its runner measured it (``latency_s`` of every
``ProposalSubmitted`` and ``ReviewSubmitted``, heard on the events subjects while the tasks
run) and each round's time as the gate measured it (``RoundSummary.duration_s``: from the
round's dispatch to its close, in the result). The suite runs concurrent tasks of a team
of 5 on the default simulated pool with its latencies scaled so that their median is
``median_s`` (2 s), each agent taking every call at once (its ``max_concurrency`` is
above the tasks run).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.task import Policy
from services.agent_runner.config import load_pool
from services.bench import driver
from services.bench.harness import DEFAULT_POOL, process_stack

TARGET = 0.02


@dataclass(frozen=True)
class RoundCalls:
    """One round: its wall time and the latency of each call made in it (seconds)."""

    wall_s: float
    proposals: tuple[float, ...]
    reviews: tuple[float, ...]

    @property
    def model_path_s(self) -> float:
        """The least this round could take: its slowest proposal, then its slowest review."""
        return max(self.proposals, default=0.0) + max(self.reviews, default=0.0)


def latency_share(rounds: Sequence[RoundCalls]) -> float:
    """The share of the rounds' time that is not their model path (0 for no time at all)."""
    wall = sum(r.wall_s for r in rounds)
    if wall <= 0:
        return 0.0
    return 1.0 - sum(r.model_path_s for r in rounds) / wall


def summary(rounds: Sequence[RoundCalls]) -> dict[str, Any]:
    """The figures of a window of rounds; what ``latency_share`` is made of, and its spread
    over single rounds."""
    if not rounds:
        raise ValueError("no rounds measured")
    calls = [c for r in rounds for c in (*r.proposals, *r.reviews)]
    shares = sorted(latency_share([r]) for r in rounds)
    share = latency_share(rounds)
    return {
        "latency_share": round(share, 4),
        "latency_share_target": TARGET,
        "latency_share_max": round(shares[-1], 4),
        "rounds": len(rounds),
        "calls": len(calls),
        "call_latency_s_p50": round(statistics.median(calls), 3) if calls else 0.0,
        "round_s_p50": round(statistics.median(r.wall_s for r in rounds), 3),
        "model_path_s_p50": round(statistics.median(r.model_path_s for r in rounds), 3),
        "not_model_ms_per_round_p50": round(
            statistics.median(1000 * (r.wall_s - r.model_path_s) for r in rounds), 1
        ),
    }


@dataclass
class CallLog:
    """Every proposal's and review's latency heard on the events subjects, by (task, round);
    a message heard twice (a redelivered handler publishes it again) counts once."""

    proposals: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], dict[str, float]] = field(default_factory=dict)
    _proposal: msgspec.json.Decoder[ProposalSubmitted] = field(
        default_factory=lambda: msgspec.json.Decoder(ProposalSubmitted)
    )
    _review: msgspec.json.Decoder[ReviewSubmitted] = field(
        default_factory=lambda: msgspec.json.Decoder(ReviewSubmitted)
    )

    async def on_proposal(self, msg: Any) -> None:
        p = self._proposal.decode(msg.data)
        if p.status != "error":  # a failed call is no model time the round waited for
            self.proposals.setdefault((p.task_id, p.round), {})[p.message_id] = p.latency_s

    async def on_review(self, msg: Any) -> None:
        r = self._review.decode(msg.data)
        if r.status != "error":
            self.reviews.setdefault((r.task_id, r.round), {})[r.message_id] = r.latency_s

    def rounds(self, result: DeliberationConcluded) -> list[RoundCalls]:
        """The result's rounds, each with the calls heard for it."""
        return [
            RoundCalls(
                wall_s=s.duration_s,
                proposals=tuple(self.proposals.get((result.task_id, s.round), {}).values()),
                reviews=tuple(self.reviews.get((result.task_id, s.round), {}).values()),
            )
            for s in result.summaries
        ]


async def measure(nc: Client, ids: Sequence[str], policy: Policy) -> dict[str, Any]:
    """Run the tasks ``ids`` at once on the stack ``nc`` is connected to; their rounds'
    ``summary``."""
    log = CallLog()
    collector, results = await driver.listen(nc)
    subs = [
        results,
        await nc.subscribe(subjects.filter_for(ProposalSubmitted), cb=log.on_proposal),
        await nc.subscribe(subjects.filter_for(ReviewSubmitted), cb=log.on_review),
    ]
    try:
        for task_id in ids:
            await driver.submit(nc, driver.task(task_id, policy))
        timeout = policy.deadline_s or 600.0
        answered = await asyncio.gather(*(collector.wait(t, timeout=timeout) for t in ids))
        await nc.flush()
    finally:
        for sub in subs:
            await sub.unsubscribe()
    missing = [t for t, r in zip(ids, answered, strict=True) if r is None]
    if missing:
        raise RuntimeError(f"no result for {', '.join(missing)}")
    return summary([r for result in answered if result for r in log.rounds(result)])


def scale_for(median_s: float, pool: Path = DEFAULT_POOL) -> float:
    """The latency scale that puts the pool's median call latency at ``median_s``."""
    medians = [a.sim.latency_median_s for a in load_pool(pool).agents if a.sim is not None]
    return median_s / statistics.median(medians)


async def run(
    median_s: float = 2.0, tasks: int = 6, rounds: int = 2, team: int = 5
) -> dict[str, Any]:
    scale = scale_for(median_s)
    env = {"NSED_AGENT_RUNNER_LATENCY_SCALE": f"{scale:.6f}"}
    # The phase timer must not cut a round that is only slow: the runners' cards announce
    # the pool's unscaled latencies until their calls are measured.
    policy = Policy(team_size=team, min_rounds=rounds, max_rounds=rounds, deadline_s=600,
                    phase_timeout_s=120)  # fmt: skip
    async with process_stack(DEFAULT_POOL, env=env) as bench:
        report = await measure(bench.nc, [f"latency-{i}" for i in range(tasks)], policy)
    return {"median_s": median_s, "latency_scale": round(scale, 3), "tasks": tasks, **report}
