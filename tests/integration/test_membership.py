"""Live membership (§8): runners join, scale and leave without restarting anything."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client

from services.stack import health
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_a_new_agent_profile_is_live_and_selectable_within_ten_seconds(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    started = time.monotonic()
    inproc.start_agent("newbie")
    await until(lambda: _live(nc, "newbie"), timeout=10, what="newbie in the registry")
    task_id = nsed.new_task_id()
    body = nsed.task(task_id, pinned_agents=["newbie"], max_rounds=1)
    await nsed.publish_task(nc, body, msg_id=task_id)
    team = await until(lambda: nsed.task_events(nc, task_id, "team", wait=0.1), what="the team")
    assert "newbie" in [s["agent_id"] for s in team[0]["seats"]]
    assert time.monotonic() - started < 10
    result = await nsed.wait_result(nc, task_id)
    assert "newbie" in result.usage  # it really took part


async def test_a_stopped_agent_leaves_the_registry_within_ten_seconds(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all(agents=("alpha", "bravo", "charlie", "newbie"))
    await ready(nc, agents=("alpha", "bravo", "charlie", "newbie"))
    started = time.monotonic()
    await inproc.stop("agent-newbie")
    await until(lambda: _gone(nc, "newbie"), timeout=10, what="newbie gone from the registry")
    assert time.monotonic() - started < 10
    # And the broker no longer offers it: pinning it now fails fast with the reason.
    task_id = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(task_id, pinned_agents=["newbie"]), msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    assert result.status == "failed"
    assert result.stop_reason == "no_team"
    assert "newbie" in result.detail


async def test_two_runners_of_one_profile_both_take_its_work(
    inproc: InProcessServices, nc: Client
) -> None:
    # newbie takes 4 calls at a time per runner: 12 tasks need more than one runner has.
    inproc.latency_scale = 4.0  # ~0.2 s per call, so work overlaps
    inproc.start_all()
    inproc.start_agent("newbie", name="newbie-1")
    inproc.start_agent("newbie", name="newbie-2")
    await ready(nc, agents=("alpha", "bravo", "charlie", "newbie"))
    await until(lambda: _instances(nc, "newbie", 2), what="two newbie instances")
    ids = [nsed.new_task_id("m") for _ in range(12)]
    for task_id in ids:
        body = nsed.task(task_id, max_rounds=1, pinned_agents=["newbie"])
        await nsed.publish_task(nc, body, msg_id=task_id)
    await asyncio.gather(*(nsed.wait_result(nc, t) for t in ids))
    instances = set()
    for task_id in ids:
        for proposal in await nsed.task_events(nc, task_id, "proposal", wait=0.1):
            if proposal["agent_id"] == "newbie":
                instances.add(proposal["instance_id"])
    assert len(instances) == 2


async def test_a_restarted_broker_sees_the_live_pool_before_taking_tasks(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    await inproc.stop("broker")
    task_id = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
    inproc.start_service("broker")
    result = await nsed.wait_result(nc, task_id)
    assert result.stop_reason != "no_team"


async def _live(nc: Client, agent: str) -> bool:
    return agent in await health.live_agent_ids(nc)


async def _gone(nc: Client, agent: str) -> bool:
    return agent not in await health.live_agent_ids(nc)


async def _instances(nc: Client, agent: str, count: int) -> bool:
    kv = await nc.jetstream().key_value("nsed_agents")
    keys = await kv.keys()
    return sum(1 for k in keys if k.startswith(f"{agent}.")) >= count
