"""Reading the agent registry once (``make status``, ``nsed agents``, ``nsed submit``'s and
``nsed eval``'s checks) lists every live card, every time, while runners keep writing theirs."""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import pytest
from nats.aio.client import Client

from schemas import subjects
from schemas.team import AgentCard
from services._runtime.bus import ensure_topology
from services.cli import client
from services.cli.inspect import print_agents
from services.stack import health

AGENTS = [f"agent{i}" for i in range(5)]
# nats-py's kv.keys() came back empty about twice per 1,000 reads here: 1,500 reads catch
# that rate 19 times in 20. Each read is 7 requests; alone the test takes about 8 s, and a
# fully loaded machine (the suite's other worker in its end-to-end tests) has made 3,000
# reads take over 120 s, hence its own time limit.
READS = 1500


def card(agent_id: str) -> bytes:
    return msgspec.json.encode(
        AgentCard(
            agent_id=agent_id,
            model=f"{agent_id}-8b",
            family=agent_id,
            backend="sim",
            instance_id="i1",
            updated_at=time.time(),
        )
    )


@pytest.mark.timeout(300)
async def test_every_read_of_the_registry_lists_every_live_agent(nc: Client) -> None:
    js = nc.jetstream()
    await ensure_topology(js)  # the bucket as the services make it
    kv = await js.key_value(subjects.AGENTS_BUCKET)
    for agent_id in AGENTS:
        await kv.put(f"{agent_id}.i1", card(agent_id))
    await kv.put("gone.i1", card("gone"))
    await kv.delete("gone.i1")  # a runner that deregistered: its key holds a delete marker

    async def heartbeats() -> None:  # as runners do, every card rewritten again and again
        while True:
            for agent_id in AGENTS:
                await kv.put(f"{agent_id}.i1", card(agent_id))
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeats())
    seen: list[int] = []
    try:
        for n in range(READS):
            read = health.registry if n % 2 else client.agent_registry
            seen.append(len((await read(nc)).live()))
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
    short = [n for n in seen if n != len(AGENTS)]
    assert short == [], f"{len(short)} of {READS} reads missed agents: {sorted(set(short))}"


async def test_an_unhealthy_instance_beside_a_healthy_one_is_named_with_its_reason(
    nc: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # A runner of another pool file under an id the services already run (the README's
    # qwen3-8b beside the simulated qwen3-8b): it shares the agent's work while it fails.
    js = nc.jetstream()
    await ensure_topology(js)
    kv = await js.key_value(subjects.AGENTS_BUCKET)
    await kv.put("agent0.i1", card("agent0"))
    reason = "probe failed: cannot reach http://127.0.0.1:9/v1"
    sick = AgentCard(agent_id="agent0", model="qwen3:8b", family="q", backend="openai",
                     instance_id="i2", updated_at=time.time(),
                     healthy=False, health=reason)  # fmt: skip
    await kv.put("agent0.i2", msgspec.json.encode(sick))
    registry = await client.agent_registry(nc)
    assert [a.agent_id for a in registry.live()] == ["agent0"]  # still seated
    print_agents(registry.live(), as_json=False, unhealthy=registry.unhealthy(),
                 failing=registry.failing_instances())  # fmt: skip
    shown = capsys.readouterr().out
    line = (
        "unhealthy instance of agent0 (instance i2, model qwen3:8b, backend openai): "
        f"{reason}; it still takes a share of agent0's work"
    )
    assert line in shown.splitlines()


async def test_a_server_too_slow_to_answer_is_an_error_not_a_registry_without_agents(
    nc: Client,
) -> None:
    # On a loaded machine a read that times out was taken for "no bucket": `make status`
    # printed "live agents: none" beside five, and `nsed eval` refused to start.
    js = nc.jetstream()
    await ensure_topology(js)
    kv = await js.key_value(subjects.AGENTS_BUCKET)
    for agent_id in AGENTS:
        await kv.put(f"{agent_id}.i1", card(agent_id))
    with pytest.raises(TimeoutError):
        await health.registry(nc, timeout=1e-9)
    assert {a.agent_id for a in (await health.registry(nc)).live()} == set(AGENTS)


async def test_a_server_with_no_registry_yet_has_no_agents(nc: Client) -> None:
    assert (await health.registry(nc)).live() == []
