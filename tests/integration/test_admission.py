"""Backpressure at intake: a burst of tasks against slow agents waits on ``NSED_TASKS``,
unstarted, while the agents' queues are full, instead of every task starting at once and
its phases timing out behind the others' work."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.client import Client

from schemas import subjects
from services.broker.admission import waiting_work
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.slowpool import AGENTS, slow_pool

SLOTS = 2  # each agent: two calls at a time, 0.2 s each: 10 calls/s
TASKS = 48  # 96 calls per agent: ~10 s of agent work, all submitted at once
BROKER_FETCHES = 4  # tasks the broker holds at a time: what it may start before it looks again


async def test_a_burst_waits_unstarted_in_the_task_stream_and_no_phase_times_out(
    inproc: InProcessServices, nc: Client, tmp_path: Path
) -> None:
    inproc.pool = slow_pool(tmp_path / "slow.toml", slots=SLOTS)
    inproc.start_service("broker", concurrency=BROKER_FETCHES)
    for name in ("reviewer", "voter", "gate"):
        inproc.start_service(name)
    for agent in AGENTS:
        inproc.start_agent(agent)
    await ready(nc, agents=AGENTS)
    inbox = await nsed.ResultInbox.open(nc)
    ids = [nsed.new_task_id("burst") for _ in range(TASKS)]
    # A phase may take 4 s: far more than one task's calls (0.2 s), far less than the
    # whole burst's (~5 s of proposals per agent, then as much of reviews).
    policy = {"team": list(AGENTS), "max_rounds": 1, "phase_timeout_s": 4, "deadline_s": 120}
    await asyncio.gather(*(nsed.publish_task(nc, nsed.task(t, **policy), msg_id=t) for t in ids))

    peaks = {"tasks": 0, "work": 0}

    async def watch_queues() -> None:
        # Observation only, every 0.1 s: the test waits on the results, not on this.
        js = nc.jetstream()
        while True:
            info = await js.consumer_info(subjects.NSED_TASKS, "broker-tasks")
            peaks["tasks"] = max(peaks["tasks"], info.num_pending or 0)
            peaks["work"] = max(peaks["work"], *(await waiting_work(js)).values(), 0)
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch_queues())
    try:
        results = [await inbox.result(t, timeout=90) for t in ids]
    finally:
        watcher.cancel()

    # No seat timed out: a task that ends without a consensus is the council's verdict.
    degraded = [(r.task_id, r.detail) for r in results if any(s.degraded for s in r.summaries)]
    assert degraded == []
    assert peaks["tasks"] > 0, "the burst should have waited on NSED_TASKS"
    # Each agent's queue stays within its slots and one look's worth of intake (their
    # proposals, then their reviews), however many tasks wait: not the burst's 48.
    assert peaks["work"] <= SLOTS + 2 * BROKER_FETCHES, peaks
    assert [inbox.count(t) for t in ids] == [1] * TASKS
