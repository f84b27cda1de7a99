"""``nsed bench backpressure``: thousands of tasks queued at once against slow agents.

Starts a private stack under supervisord with a pool of ``agents`` simulated agents that
each take exactly ``latency_s`` per call, ``concurrency`` calls at a time, publishes
``tasks`` tasks at once (each seats every agent of the pool, ``rounds`` rounds), and holds a
plain subscription on ``nsed.results.>`` until every result is in or none has come for
``STALL_S``. Reports the peak RSS of every process (and at each quarter of the run), the
queues (tasks waiting on ``NSED_TASKS``, work waiting on ``NSED_WORK``), what became of each
task (``outcomes.py``), and the rate results arrived at against the rate the agents allow:
each task needs 2 calls per agent per round, so ``concurrency / (2 · rounds · latency_s)``
tasks per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from schemas import subjects
from schemas.task import Policy
from services.bench import driver, evidence
from services.bench.inbox import HeldInbox, connect
from services.bench.memory import RssMeter
from services.bench.outcomes import Evidence, tally
from services.bench.report import machine
from services.bench.supervised import supervised_stack

STALL_S = 120.0  # no result for this long: the rest are stuck (or lost)
PUBLISHERS = 200  # publishes in flight while queueing every task at once
FAMILIES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


def pool_toml(agents: int, latency_s: float, concurrency: int) -> str:
    blocks = []
    for index, family in enumerate(FAMILIES[:agents]):
        blocks.append(
            f'[[agents]]\nid = "slow-{family}"\nmodel = "slow-{family}"\nfamily = "{family}"\n'
            f'backend = "sim"\nmax_concurrency = {concurrency}\n'
            f"[agents.sim]\nlatency_median_s = {latency_s}\nlatency_sigma = 0.0\n"
            f"seed = {index + 1}\n"
        )
    return "\n".join(blocks)


async def queues(nc: Client) -> dict[str, int]:
    """Messages waiting for a service (pending) and in a service's hands (unacknowledged)."""
    js = nc.jetstream()
    found: Counter[str] = Counter()
    for stream, key in ((subjects.NSED_TASKS, "tasks"), (subjects.NSED_WORK, "work")):
        for consumer in await js.consumers_info(stream):
            found[f"{key}_waiting"] += consumer.num_pending or 0
            found[f"{key}_in_hand"] += consumer.num_ack_pending or 0
    return dict(found)


async def run(
    tasks: int = 2000,
    *,
    agents: int = 3,
    latency_s: float = 1.0,
    concurrency: int = 16,
    rounds: int = 1,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nsed-backpressure-") as tmp:
        pool = Path(tmp) / "slow.toml"
        pool.write_text(pool_toml(agents, latency_s, concurrency))
        async with supervised_stack(pool) as bench:
            inbox = await HeldInbox.open(bench.url, bench.home)
            nc = await connect(bench.url, "nsed-bench-backpressure", bench.home)
            try:
                return await _measure(nc, inbox, bench.running, tasks, agents, rounds) | {
                    "agents": agents,
                    "latency_s": latency_s,
                    "concurrency": concurrency,
                    "theoretical_tasks_per_s": round(concurrency / (2 * rounds * latency_s), 2),
                    "machine": machine(),
                }
            finally:
                await nc.close()
                await inbox.close()


async def _measure(
    nc: Client, inbox: HeldInbox, running: Any, tasks: int, agents: int, rounds: int
) -> dict[str, Any]:
    team = tuple(f"slow-{family}" for family in FAMILIES[:agents])
    policy = Policy(team=team, min_rounds=rounds, max_rounds=rounds)
    ids = [f"bp-{uuid.uuid4().hex[:8]}-{i}" for i in range(tasks)]
    meter = RssMeter(running, lambda: inbox.answered() / tasks)
    peaks: Counter[str] = Counter()
    stop = asyncio.Event()

    async def watch_queues() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a busy server: the next reading will do
                for key, value in (await queues(nc)).items():
                    peaks[key] = max(peaks[key], value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)  # the sampling period

    samplers = [asyncio.create_task(meter.run(stop)), asyncio.create_task(watch_queues())]
    started = time.monotonic()
    gate = asyncio.Semaphore(PUBLISHERS)

    async def publish(task_id: str) -> None:
        async with gate:
            await driver.submit(nc, driver.task(task_id, policy))

    await asyncio.gather(*(publish(t) for t in ids))
    queued_s = time.monotonic() - started
    last, moved = inbox.answered(), time.monotonic()
    while inbox.answered() < tasks and time.monotonic() - moved < STALL_S:
        await asyncio.sleep(1.0)  # progress is polled: any new result resets the stall
        if inbox.answered() > last:
            last, moved = inbox.answered(), time.monotonic()
    elapsed = time.monotonic() - started
    stop.set()
    await asyncio.gather(*samplers)
    await inbox.settle()
    stored = await evidence.stored_results(nc)
    records = await evidence.records(nc, [t for t in ids if not inbox.count(t)])
    counts = tally(
        (
            Evidence(
                received=inbox.count(t),
                stored_at=min(stored[t]) if stored.get(t) else None,
                record=evidence.state(records[t]) if t in records else "done",
            )
            for t in ids
        ),
        inbox.missed,
    )
    statuses = Counter(inbox.received[t][0].status for t in ids if inbox.count(t))
    return {
        "suite": "backpressure",
        "tasks": tasks,
        "lost": counts["lost"],
        "duplicates": counts["duplicates"],
        "stuck": counts["stuck"],
        "statuses": dict(statuses),
        "queued_in_s": round(queued_s, 2),
        "seconds": round(elapsed, 1),
        "tasks_per_s": rate(sorted(inbox.first_at.values()), started),
        "peak_queues": dict(peaks),
        **meter.report(),
        "rounds": rounds,
    }


def rate(arrivals: list[float], started: float) -> float:
    """Results per second between the 10th and the 90th percentile of arrivals: the steady
    rate, without the pipeline filling at the start and draining at the end."""
    if len(arrivals) < 10:
        span = (arrivals[-1] - started) if arrivals else 0.0
        return round(len(arrivals) / span, 2) if span > 0 else 0.0
    low, high = len(arrivals) // 10, len(arrivals) * 9 // 10
    span = arrivals[high] - arrivals[low]
    return round((high - low) / span, 2) if span > 0 else 0.0


def table(report: dict[str, Any]) -> str:
    """The human summary: outcomes, rate against the agents' rate, queues, peak memory."""
    head = (
        f"backpressure: {report['tasks']} tasks queued in {report['queued_in_s']} s against "
        f"{report['agents']} agents ({report['latency_s']} s a call, {report['concurrency']} "
        f"at a time) · {report['seconds']} s\n"
        f"lost {report['lost']} · duplicates {report['duplicates']} · stuck {report['stuck']}"
        f" · {', '.join(f'{k} {v}' for k, v in report['statuses'].items())}\n"
        f"results {report['tasks_per_s']}/s; the agents allow "
        f"{report['theoretical_tasks_per_s']}/s\n"
        f"peak queues: {', '.join(f'{k} {v}' for k, v in report['peak_queues'].items())}\n"
    )
    rows = "| process | peak RSS MB |\n|---|---|\n" + "".join(
        f"| {name} | {mb} |\n" for name, mb in report["peak_rss_mb"].items()
    )
    return head + rows
