"""A task id is an idempotency key: the same task sent again hears its result again; a
different task under a used id is refused to its sender, and the id's result stays."""

from __future__ import annotations

import json

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_a_reused_task_id_is_refused_and_the_same_task_hears_its_result_again(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    refusals: list[dict] = []

    async def on_refused(msg) -> None:  # type: ignore[no-untyped-def]
        refusals.append(json.loads(msg.data))

    await nc.subscribe("nsed.events.*.refused", cb=on_refused)
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    body = nsed.task("reuse-1", max_rounds=1)
    await nc.publish("nsed.tasks", json.dumps(body).encode())
    first = await inbox.result("reuse-1")

    other = {**body, "prompt": "What is 6*7?", "reference_answer": "42"}
    await nc.publish("nsed.tasks", json.dumps(other).encode())
    await until(lambda: refusals, what="the refusal")
    assert refusals[0]["task_id"] == "reuse-1"
    assert "already used by another task" in refusals[0]["reason"]
    letters = await until(lambda: nsed.dead_letters(nc, "broker", wait=0.2), what="a letter")
    assert "already used" in letters[0].error

    await nc.publish("nsed.tasks", json.dumps(body).encode())  # the same task, sent anew
    await until(lambda: inbox.count("reuse-1") == 2, what="the result again")
    await inproc.close()
    await inbox.settle()
    again = inbox.received["reuse-1"][1]
    assert (again.status, again.extracted_answer, again.answer) == (
        first.status,
        first.extracted_answer,
        first.answer,
    )
    assert again.message_id != first.message_id
    assert await nsed.stored_result(nc, "reuse-1") == first  # the record's result is the same
    assert inbox.count("reuse-1") == 2  # once for each time the task was sent
