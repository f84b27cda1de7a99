"""A small chaos run (``nsed bench chaos``'s own code): the stack of ``make up`` under
supervisord, a random service or runner ``kill -9``ed every second or so and nats-server
once, mid-run; supervisord restarts each. Every task still gets exactly one result."""

from __future__ import annotations

import pytest

from services.bench import chaos

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
