"""Any number of replicas of each service: two of everything under load, and every task
received exactly once by a plain subscriber, equal to its record's result."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessStack

AGENTS = ("alpha", "bravo", "charlie", "delta")


async def test_two_replicas_of_every_service_answer_forty_tasks_each_exactly_once(
    stack: InProcessStack, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    stack.start_all(agents=AGENTS, replicas=2)
    await ready(nc, agents=AGENTS)
    ids = [nsed.new_task_id("r") for _ in range(40)]
    await asyncio.gather(
        *(nsed.publish_task(nc, nsed.task(t, max_rounds=3, min_rounds=2), msg_id=t) for t in ids)
    )
    results = [await inbox.result(t, timeout=120) for t in ids]
    await stack.close()  # every replica drained: anything they published has been sent
    await inbox.settle()

    # Nothing lost: no seat timed out, no ballot went missing, no round fell below quorum.
    # (A task may still end without a consensus: that is the council's verdict, not loss.)
    lost = [(r.task_id, r.detail) for r in results if any(s.degraded for s in r.summaries)]
    assert lost == []
    assert {r.status for r in results if r.stop_reason != "no_consensus"} == {"completed"}
    assert [inbox.count(t) for t in ids] == [1] * len(ids)
    for result in results:
        assert await nsed.stored_result(nc, result.task_id) == result
    for service in ("broker", "reviewer", "voter", "gate", "agent_runner"):
        assert await nsed.dead_letters(nc, service) == [], service
