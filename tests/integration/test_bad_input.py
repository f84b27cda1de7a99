"""Bad input never crashes a service: it lands in the DLQ with its reason, and valid
tasks keep flowing."""

from __future__ import annotations

import json

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def test_malformed_and_mistyped_tasks_are_dead_lettered_while_valid_ones_flow(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    await nc.publish("nsed.tasks", b"{not json")
    await nc.publish("nsed.tasks", json.dumps({"prompt": 5}).encode())
    good = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(good), msg_id=good)
    result = await nsed.wait_result(nc, good)
    assert result.status in ("completed", "degraded")

    letters = await until(lambda: _at_least(nc, "broker", 2), what="two broker dead letters")
    by_reason = {letter.error: letter for letter in letters}
    assert any(e.startswith("undecodable") for e in by_reason), by_reason
    typed = next(letter for letter in letters if letter.path == "$.prompt")
    assert typed.error == "prompt: must be text, not a whole number"  # plain words
    assert typed.subject == "nsed.tasks"
    assert typed.payload_excerpt == '{"prompt": 5}'


async def test_an_invalid_task_with_a_readable_id_also_gets_a_failed_result(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    body = {"task_id": "bad-policy", "prompt": "x", "policy": {"team_size": 2, "min_team": 3}}
    await nc.publish("nsed.tasks", json.dumps(body).encode())
    result = await nsed.wait_result(nc, "bad-policy")
    assert result.status == "failed"
    assert result.stop_reason == "error"
    assert "min_team (3) exceeds team_size (2)" in result.detail
    letters = await until(lambda: _at_least(nc, "broker", 1), what="a broker dead letter")
    assert letters[0].path == "$.policy"


async def test_garbage_on_internal_subjects_is_dead_lettered_by_the_consuming_service(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    js = nc.jetstream()
    await js.publish("nsed.events.junk.proposal.alpha", b"\x00\x01 garbage")
    await js.publish("nsed.events.junk.voting", b'{"type": "voting.opened", "round": "x"}')
    await js.publish("nsed.work.alpha.propose", b"[]")
    # A well-formed proposal for a task nobody knows about is rejected too.
    await js.publish(
        "nsed.events.ghost.proposal.alpha",
        json.dumps({"type": "proposal.submitted", "task_id": "ghost", "round": 1,
                    "message_id": "m", "proposal_id": "p", "seat": 0,
                    "agent_id": "alpha"}).encode(),
    )  # fmt: skip
    reviewer = await until(lambda: _at_least(nc, "reviewer", 2), what="reviewer dead letters")
    assert any("undecodable" in d.error for d in reviewer)
    assert any("no deliberation record for task 'ghost'" in d.error for d in reviewer)
    voter = await until(lambda: _at_least(nc, "voter", 1), what="a voter dead letter")
    assert voter[0].subject == "nsed.events.junk.voting"
    assert voter[0].path is not None
    runner = await until(lambda: _at_least(nc, "agent_runner", 1), what="a runner dead letter")
    assert runner[0].subject == "nsed.work.alpha.propose"

    good = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(good), msg_id=good)
    assert (await nsed.wait_result(nc, good)).status in ("completed", "degraded")
    assert inproc.failures() == []


async def _at_least(nc: Client, service: str, count: int) -> list | None:
    letters = await nsed.dead_letters(nc, service, wait=0.2)
    return letters if len(letters) >= count else None


async def test_a_malformed_task_reusing_a_running_tasks_id_leaves_its_result_alone(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.latency_scale = 20.0  # ~1 s per call: the task is still running when the bad one lands
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("busy")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
    await until(lambda: nsed.task_events(nc, task_id, "team", wait=0.1), what="the team")
    bad = {"task_id": task_id, "prompt": "x", "policy": {"team_size": 0}}
    await nc.jetstream().publish("nsed.tasks", json.dumps(bad).encode())
    letters = await until(lambda: _at_least(nc, "broker", 1), what="a broker dead letter")
    assert letters[0].path == "$.policy.team_size"

    result = await inbox.result(task_id, timeout=60)
    await inproc.close()
    await inbox.settle()
    assert result.status == "completed"
    assert inbox.count(task_id) == 1
    assert await nsed.stored_result(nc, task_id) == result


async def test_a_string_that_is_not_utf8_is_dead_lettered_and_the_service_keeps_consuming(
    inproc: InProcessServices, nc: Client
) -> None:
    """msgspec reads such a string with Python's UTF-8 codec, whose error is no msgspec
    error: it must still be a rejection, not the end of the worker's loop."""
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    js = nc.jetstream()
    await js.publish("nsed.tasks", b'{"task_id": "bad-utf8", "prompt": "\x96"}')
    await js.publish("nsed.events.junk.voting", b'{"type": "\xff"}')
    broker = await until(lambda: _at_least(nc, "broker", 1), what="a broker dead letter")
    assert broker[0].error.startswith("undecodable")
    voter = await until(lambda: _at_least(nc, "voter", 1), what="a voter dead letter")
    assert voter[0].subject == "nsed.events.junk.voting"

    good = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(good), msg_id=good)
    assert (await nsed.wait_result(nc, good)).status in ("completed", "degraded")
    assert inproc.failures() == []
