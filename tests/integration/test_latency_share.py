"""``latency_share`` over a real nats-server against a latency known in advance: agents whose every
call takes exactly ``LATENCY`` seconds, so each round's slowest calls take 2 × ``LATENCY``
(a proposal, then a review), and the share is what the rounds took beyond that, by the
rounds' times in the results."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client

from schemas.task import Policy
from services.bench import driver, latency
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.slowpool import AGENTS, slow_pool

LATENCY = 0.3
TASKS = 2
ROUNDS = 2


async def test_latency_share_is_the_rounds_time_beyond_their_slowest_calls(
    inproc: InProcessServices, nc: Client, tmp_path: Path
) -> None:
    inproc.pool = slow_pool(tmp_path / "slow.toml", slots=TASKS, latency_s=LATENCY)
    for name in ("broker", "reviewer", "voter", "gate"):
        inproc.start_service(name)
    for agent in AGENTS:
        inproc.start_agent(agent)
    await ready(nc, agents=AGENTS)
    collector, sub = await driver.listen(nc)  # the results as a client sees them
    ids = [nsed.new_task_id("latency") for _ in range(TASKS)]
    policy = Policy(team=list(AGENTS), min_rounds=ROUNDS, max_rounds=ROUNDS, deadline_s=120,
                    phase_timeout_s=30)  # fmt: skip

    report = await latency.measure(nc, ids, policy)
    await sub.unsubscribe()

    walls = [s.duration_s for t in ids for s in collector.results[t].summaries]
    assert report["rounds"] == len(walls) == TASKS * ROUNDS
    assert report["calls"] == TASKS * ROUNDS * len(AGENTS) * 2  # a proposal and a review each
    # Each call is its sleep and a few milliseconds of the runner's own work.
    assert LATENCY <= report["call_latency_s_p50"] < LATENCY + 0.05
    assert 2 * LATENCY <= report["model_path_s_p50"] < 2 * LATENCY + 0.1
    assert report["round_s_p50"] > report["model_path_s_p50"]
    expected = 1 - 2 * LATENCY * len(walls) / sum(walls)
    assert report["latency_share"] == pytest.approx(expected, abs=0.03)
    assert 0 < report["latency_share"] <= report["latency_share_max"] < 1
