"""Small runs of the two suites that start ``make up``'s stack under supervisord.

Chaos (``nsed bench chaos``'s own code): a random service or runner ``kill -9``ed every
second or so and nats-server once, mid-run; supervisord restarts each. Every task still
gets exactly one result. Backpressure: a burst queued at once against slow agents waits on
``NSED_TASKS`` and is answered at the rate the agents allow."""

from __future__ import annotations

import pytest

from services.bench import backpressure, chaos

TASKS = 20


@pytest.mark.timeout(150)
async def test_a_small_chaos_run_loses_repeats_and_strands_nothing() -> None:
    # Three 3-round tasks' worth of agent latency per slot: the run lasts long enough for
    # several kills to land while tasks are in flight.
    report = await chaos.run(
        TASKS, every_s=1.5, in_flight=TASKS, rounds=3, latency_scale=2.0, seed=15
    )
    summary = {k: report[k] for k in ("tasks", "lost", "duplicates", "stuck", "nats_restarts")}
    assert summary == {"tasks": TASKS, "lost": 0, "duplicates": 0, "stuck": 0,
                       "nats_restarts": 1}, report["problems"]  # fmt: skip
    # The kills landed mid-run: NATS's and at least two others while results were missing.
    mid_run = [k for k in report["kill_log"] if k["answered"] < TASKS]
    assert any(k["program"] == "nats" for k in mid_run), report["kill_log"]
    assert len([k for k in mid_run if k["program"] != "nats"]) >= 2, report["kill_log"]
    assert report["not_restarted"] == []
    assert report["idle_at_end"] is True
    assert sum(report["statuses"].values()) + report["missed_while_reconnecting"] == TASKS


@pytest.mark.timeout(150)
async def test_a_queued_burst_is_worked_through_at_the_rate_the_agents_allow() -> None:
    # 3 agents, 2 calls at a time of 0.2 s: 5 one-round tasks a second at most.
    report = await backpressure.run(60, latency_s=0.2, concurrency=2)
    assert (report["lost"], report["duplicates"], report["stuck"]) == (0, 0, 0)
    assert report["statuses"] == {"completed": 60}
    assert report["theoretical_tasks_per_s"] == 5.0
    assert 0.6 * 5.0 <= report["tasks_per_s"] <= 1.1 * 5.0, report["tasks_per_s"]
    assert report["peak_queues"]["tasks_waiting"] > 0  # the burst waited on NSED_TASKS
    processes = {"broker", "reviewer", "voter", "gate", "gateway", "nats", "bench client"}
    assert processes | {f"agent-slow-{f}" for f in ("alpha", "bravo", "charlie")} == set(
        report["peak_rss_mb"]
    )
