"""A task in, one result out: the whole round on a real NATS, services in-process."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.aio.client import Client

from tests.integration.conftest import logged_task, ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_a_bare_nats_client_gets_its_result_on_the_results_subject(
    inproc: InProcessServices, nc: Client, nats_server
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    # Only nats-py and JSON from here on: no project code on the client side.
    bare = await nats.connect(nats_server.url)
    try:
        inbox = await bare.subscribe("nsed.results.bare-1")
        body = {
            "task_id": "bare-1",
            "prompt": "What is 6*7?",
            "reference_answer": "42",
            "answer_format": "integer",
        }
        await bare.publish("nsed.tasks", json.dumps(body).encode())
        msg = await inbox.next_msg(timeout=30)
    finally:
        await bare.close()
    result = json.loads(msg.data)
    assert result["type"] == "deliberation.concluded"
    assert result["task_id"] == "bare-1"
    assert result["status"] in ("completed", "degraded")
    assert result["rounds"] >= 1
    assert len(result["summaries"]) == result["rounds"]
    assert result["simulated"] is True


async def test_a_task_without_an_id_is_given_one_and_answered(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    results = await nc.subscribe("nsed.results.>")
    await nc.publish("nsed.tasks", b'{"prompt": "Name a prime number between 10 and 15."}')
    msg = await results.next_msg(timeout=30)
    result = json.loads(msg.data)
    assert result["task_id"].startswith("t")
    assert msg.subject == f"nsed.results.{result['task_id']}"


async def test_a_three_round_task_reports_every_round_with_usage_and_one_trace(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=3, min_rounds=3), msg_id=task_id)
    result = await inbox.result(task_id)
    assert result.status == "completed"
    assert result.stop_reason == "max_rounds"
    assert [s.round for s in result.summaries] == [1, 2, 3]
    assert set(result.usage) == {"alpha", "bravo", "charlie"}
    assert all(u.calls == 6 for u in result.usage.values())  # 3 proposals + 3 reviews each
    assert result.total.input_tokens > 0
    assert result.cost_usd > 0
    assert result.trace_id is not None
    assert len(result.trace_id) == 32
    assert result.correct is not None
    continued = await nsed.task_events(nc, task_id, "continued")
    assert [c["next_round"] for c in continued] == [2, 3]
    # Every event of the task, from every service, carries the one trace in its headers.
    assert await nsed.trace_ids_of_events(nc, task_id) == {result.trace_id}
    await inproc.close()
    await inbox.settle()
    assert inbox.count(task_id) == 1
    assert await nsed.stored_result(nc, task_id) == result


async def test_a_resubmitted_task_is_answered_once(inproc: InProcessServices, nc: Client) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id()
    body = nsed.task(task_id, max_rounds=2, min_rounds=2)
    # Twice with distinct message ids, so JetStream's dedupe does not hide the second.
    await nsed.publish_task(nc, body, msg_id=f"{task_id}-a")
    await nsed.publish_task(nc, body, msg_id=f"{task_id}-b")
    result = await inbox.result(task_id)
    await inproc.close()
    await inbox.settle()
    assert inbox.count(task_id) == 1
    assert await nsed.stored_result(nc, task_id) == result


async def test_twenty_concurrent_tasks_each_get_exactly_one_result(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all(agents=("alpha", "bravo", "charlie", "delta"))
    await ready(nc, agents=("alpha", "bravo", "charlie", "delta"))
    ids = [nsed.new_task_id("c") for _ in range(20)]
    await asyncio.gather(
        *(nsed.publish_task(nc, nsed.task(t, max_rounds=3, min_rounds=3), msg_id=t) for t in ids)
    )
    results = [await inbox.result(t, timeout=90) for t in ids]
    assert all(r.rounds == 3 for r in results)
    await inproc.close()
    await inbox.settle()
    assert [inbox.count(t) for t in ids] == [1] * 20


async def test_the_gate_writes_per_agent_telemetry_for_the_tasks_domain(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id()
    body = {**nsed.task(task_id, max_rounds=2, min_rounds=2), "domain": "arith"}
    await nsed.publish_task(nc, body, msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    kv = await nc.jetstream().key_value("nsed_telemetry")

    async def both_rounds() -> dict | None:  # buffered: flushed within a second
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return None
        found = {k: json.loads((await kv.get(k)).value) for k in keys}
        complete = len(found) == 3 and all(v["rounds"] == 2 for v in found.values())
        return found if complete else None

    values = await until(both_rounds, what="stats of both rounds")
    assert set(values) == {"arith.alpha", "arith.bravo", "arith.charlie"}
    # one win per round that had a supported winner
    assert sum(v["wins"] for v in values.values()) == sum(s.supported for s in result.summaries)
    # with a reference answer, every ok proposal is a generation trial
    assert sum(v["gen_trials"] for v in values.values()) == sum(
        s.ok_proposals for s in result.summaries
    )
    assert result.halting is not None
    assert result.halting.t_opt > 0
    assert [s.cost_usd > 0 for s in result.summaries] == [True, True]


async def test_every_handled_line_in_the_logs_carries_the_tasks_trace(
    inproc: InProcessServices, nc: Client, capfd: pytest.CaptureFixture[str]
) -> None:
    task_id, result, lines = await logged_task(inproc, nc, capfd, "logs")
    handled = [
        line for line in lines if line.get("event") == "handled" and line.get("task_id") == task_id
    ]
    assert len(handled) >= 10
    assert {line.get("trace_id") for line in handled} == {result.trace_id}
    assert all(line.get("span_id") for line in handled)
