"""Crash safety (§7): kill -9 any service mid-deliberation, restart it, and the task still
gets exactly one result. Plus: 20 concurrent 3-round tasks, each answered exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from services.stack import health
from tests.e2e.conftest import POOL_AGENTS
from tests.support import nsed
from tests.support.natsserver import NatsServer
from tests.support.processes import SERVICES, ProcessStack
from tests.support.wait import until


@pytest.fixture
async def client(server: NatsServer, processes: ProcessStack) -> AsyncIterator[Client]:
    nc = await nsed.connect(server.url)
    try:
        await until(lambda: _healthy(nc, processes), timeout=60, what="the stack to be healthy")
        yield nc
    finally:
        await nc.close()


async def _healthy(nc: Client, processes: ProcessStack) -> bool:
    found = await health.discover(nc, wait=0.15)
    live = await health.live_agent_ids(nc)
    return all(found.get(s) for s in SERVICES) and set(POOL_AGENTS) <= live


async def test_twenty_concurrent_three_round_tasks_each_get_exactly_one_result(
    client: Client,
) -> None:
    inbox = await nsed.ResultInbox.open(client)
    ids = [nsed.new_task_id("e2e") for _ in range(24)]
    await asyncio.gather(
        *(nsed.publish_task(client, nsed.task(t, max_rounds=3, min_rounds=3), msg_id=t)
          for t in ids)
    )  # fmt: skip
    results = [await inbox.result(t, timeout=120) for t in ids]
    assert [r.rounds for r in results] == [3] * len(ids)
    await _all_delivered(client, inbox)
    assert [inbox.count(t) for t in ids] == [1] * len(ids)
    for result in results:
        assert await nsed.stored_result(client, result.task_id) == result


# (service to kill, the event after which it is killed: the service is busy right then)
CRASHES = [
    ("broker", "continued"),  # dispatching round 2
    ("agent-alpha", "team"),  # alpha's round-1 proposal in flight
    ("reviewer", "proposal"),  # gathering proposals
    ("voter", "review"),  # gathering reviews into ballots
    ("gate", "tally"),  # closing round 1
]


@pytest.mark.parametrize(("victim", "after"), CRASHES, ids=[c[0] for c in CRASHES])
async def test_kill_9_mid_deliberation_then_restart_still_gives_exactly_one_result(
    client: Client, processes: ProcessStack, victim: str, after: str
) -> None:
    inbox = await nsed.ResultInbox.open(client)
    task_id = nsed.new_task_id(f"crash-{victim}")
    body = nsed.task(task_id, max_rounds=3, min_rounds=3, pinned_agents=["alpha"])
    await nsed.publish_task(client, body, msg_id=task_id)
    await until(lambda: nsed.task_events(client, task_id, after, wait=0.05), timeout=30,
                every=0.02, what=f"a {after} event")  # fmt: skip
    processes.kill9(victim)
    assert not processes.alive(victim)
    record = await (await client.jetstream().key_value("nsed_deliberations")).get(task_id)
    assert b'"result":null' in record.value, "the kill should land before the task ends"
    processes.start(victim)
    result = await inbox.result(task_id, timeout=90)
    assert result.rounds == 3
    assert result.status == "completed", result.detail
    await _all_delivered(client, inbox)
    assert inbox.count(task_id) == 1
    assert await nsed.stored_result(client, task_id) == result


async def _all_delivered(nc: Client, inbox: nsed.ResultInbox) -> None:
    """Wait until the stack has nothing pending or unacknowledged (so a redelivered message
    that would repeat a result has been handled), then until the inbox has all it was sent."""
    await until(lambda: nsed.idle(nc), timeout=60, every=0.2, what="the stack to be idle")
    await inbox.settle()


async def test_a_killed_runner_leaves_the_registry_within_ten_seconds(
    client: Client, processes: ProcessStack
) -> None:
    processes.kill9("agent-delta")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await until(lambda: _gone(client, "delta"), timeout=10, what="delta gone")
    assert loop.time() - started < 10
    processes.start("agent-delta")
    await until(lambda: _back(client, "delta"), timeout=10, what="delta back")


async def _gone(nc: Client, agent: str) -> bool:
    return agent not in await health.live_agent_ids(nc)


async def _back(nc: Client, agent: str) -> bool:
    return agent in await health.live_agent_ids(nc)
