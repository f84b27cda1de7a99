"""Cancelling a task: the gate ends it at once as `cancelled`, with what it had and what it
cost; no round starts after it, and its one result reaches a plain subscriber once."""

from __future__ import annotations

import json

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_a_cancelled_task_ends_at_once_with_what_it_cost(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.latency_scale = 20.0  # ~1 s per call: a six-round task runs long enough to cancel
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("cancel")
    body = nsed.task(task_id, max_rounds=6, min_rounds=6, deadline_s=300)
    await nsed.publish_task(nc, body, msg_id=task_id)
    await until(lambda: nsed.task_events(nc, task_id, "proposal", wait=0.1), what="a proposal")
    cancel = {"type": "task.cancel_requested", "task_id": task_id, "round": 0,
              "message_id": f"{task_id}:cancel", "reason": "changed my mind"}  # fmt: skip
    await nc.jetstream().publish(f"nsed.events.{task_id}.cancel", json.dumps(cancel).encode())

    result = await inbox.result(task_id, timeout=30)
    assert (result.status, result.stop_reason) == ("cancelled", "cancelled")
    assert "changed my mind" in result.detail
    assert result.total.calls >= 1  # what was spent before the cancel is in the result
    assert result.rounds < 6
    await inproc.close()
    await inbox.settle()
    assert inbox.count(task_id) == 1
    dispatched = await nsed.task_events(nc, task_id, "continued")
    assert all(c["next_round"] <= result.round for c in dispatched)


async def test_cancelling_an_ended_task_changes_nothing(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("ended")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
    first = await nsed.wait_result(nc, task_id)
    cancel = {"type": "task.cancel_requested", "task_id": task_id, "round": 0,
              "message_id": f"{task_id}:cancel"}  # fmt: skip
    await nc.jetstream().publish(f"nsed.events.{task_id}.cancel", json.dumps(cancel).encode())
    await until(lambda: nsed.idle(nc), what="the cancel handled")
    assert await nsed.stored_result(nc, task_id) == first
    assert first.status != "cancelled"
