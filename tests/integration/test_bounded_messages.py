"""A message over a bound (schemas/limits.py) from anyone but the runner is refused by the
service that receives it: dead-lettered with a reason naming the field, while a running task
is untouched and finishes."""

from __future__ import annotations

import json

from nats.aio.client import Client

from schemas import limits
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_an_over_long_proposal_is_dead_lettered_naming_the_field(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.latency_scale = 20.0  # ~1 s per call: round 1 stays open while we publish
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("long")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
    await until(lambda: nsed.task_events(nc, task_id, "team", wait=0.1), what="the team")
    proposal = {
        "type": "proposal.submitted", "task_id": task_id, "round": 1, "message_id": "long",
        "proposal_id": "p", "seat": 0, "agent_id": "alpha",
        "content": "x" * (limits.CONTENT_CHARS + 1),
    }  # fmt: skip
    await nc.jetstream().publish(
        f"nsed.events.{task_id}.proposal.alpha", json.dumps(proposal).encode()
    )

    async def letters() -> list | None:
        found = await nsed.dead_letters(nc, "reviewer", wait=0.2)
        return found or None

    [letter] = await until(letters, what="the reviewer's dead letter")
    assert letter.error == f"content: must be at most {limits.CONTENT_CHARS} characters"
    assert letter.path == "$.content"
    assert letter.subject == f"nsed.events.{task_id}.proposal.alpha"
    result = await nsed.wait_result(nc, task_id)
    assert result.status in ("completed", "degraded")
    assert inproc.failures() == []
