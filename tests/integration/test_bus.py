"""Publishing on a real JetStream: what plain subscribers receive."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client
from opentelemetry import trace

from schemas import subjects
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState
from schemas.task import TaskSubmitted
from services._runtime.bus import Bus, ensure_topology
from services._runtime.errors import Retryable
from services._runtime.once import CLAIM_LEASE_S, RECHECK_S, claim_key
from services._runtime.route import Delivery, Route
from services._runtime.worker import Worker
from services.core import ids
from tests.support import nsed
from tests.support.natsserver import NatsServer
from tests.support.wait import until


def _result(task_id: str) -> DeliberationConcluded:
    return DeliberationConcluded(
        task_id=task_id,
        round=1,
        message_id=ids.result(task_id),
        status="completed",
        stop_reason="converged",
    )


async def test_a_result_published_again_reaches_plain_subscribers_once(nc: Client) -> None:
    # A handler re-run after a redelivery emits its result again: the stream's duplicate
    # window would drop it, but a plain subscriber would receive it a second time.
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    bus = Bus(nc, "gate")
    await bus.publish(_result("once-1"))
    await bus.publish(_result("once-1"))
    await Bus(nc, "gate").publish(_result("once-1"))  # another replica's re-run
    await inbox.settle()
    assert inbox.count("once-1") == 1


async def test_a_result_two_handlers_emit_at_once_reaches_plain_subscribers_once(
    nc: Client,
) -> None:
    # Two deliveries of one tally, committed in one batch by the record store (a
    # redelivery queued behind a request lost in a NATS restart), emit the result at the
    # same moment: both must not find the stream without it and both publish.
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    bus = Bus(nc, "gate")
    await asyncio.gather(*(bus.publish(_result("together-1")) for _ in range(3)))
    await inbox.settle()
    assert inbox.count("together-1") == 1


async def test_a_result_two_replicas_emit_at_once_reaches_plain_subscribers_once(
    nc: Client, nats_server: NatsServer
) -> None:
    # After a NATS restart two gate replicas can hold deliveries of one tally at once: each
    # would find the stream without the result, and both publish. One claims it; the other
    # tries again later and finds it in the stream.
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    replicas = [Bus(await nsed.connect(nats_server.url), "gate") for _ in range(3)]
    try:
        outcomes = await asyncio.gather(
            *(bus.publish(_result("replicas-1")) for bus in replicas), return_exceptions=True
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "Retryable", "Retryable"]
        for bus, outcome in zip(replicas, outcomes, strict=True):
            if outcome is not None:  # the redelivery: the stream holds it now
                await bus.publish(_result("replicas-1"))
        await inbox.settle()
        assert inbox.count("replicas-1") == 1
    finally:
        for bus in replicas:
            await bus.nc.close()


async def test_a_claim_whose_holder_died_before_publishing_lapses(nc: Client) -> None:
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    dead, alive = Bus(nc, "gate"), Bus(nc, "gate")
    msg_id = ids.result("lapsed-1")
    assert await dead.once.claim(msg_id) is None  # then it died before publishing
    with pytest.raises(Retryable, match="another replica") as raised:
        await alive.publish(_result("lapsed-1"))
    assert raised.value.delay == RECHECK_S[1]  # it looks again well before the lease ends
    alive.once.clock = lambda: time.time() + CLAIM_LEASE_S + 1
    assert await alive.once.claim(msg_id) == 0.0  # lapsed: the next try may claim it
    kv = await nc.jetstream().key_value(subjects.CLAIMS_BUCKET)
    await kv.purge(claim_key(msg_id))  # what the bucket's age limit does by then
    await alive.publish(_result("lapsed-1"))
    await inbox.settle()
    assert inbox.count("lapsed-1") == 1


async def test_another_message_on_a_results_subject_is_still_delivered(nc: Client) -> None:
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    bus = Bus(nc, "broker")
    rejected = DeliberationConcluded(
        task_id="other-1",
        round=0,
        message_id=ids.rejection("other-1", "abc"),
        status="failed",
        stop_reason="error",
    )
    await bus.publish(rejected)
    await bus.publish(_result("other-1"))
    await inbox.settle()
    assert [r.status for r in inbox.received["other-1"]] == ["failed", "completed"]


async def test_a_handler_output_its_route_does_not_declare_is_never_published(
    nc: Client,
) -> None:
    await ensure_topology(nc.jetstream())
    stray = RoundContinued(
        task_id="stray-1", round=1, message_id="stray-1:1:continued", next_round=2,
        state=ConsensusState(),
    )  # fmt: skip

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> list[RoundContinued]:
        return [stray]

    route = Route(name="undeclared", consumes=(TaskSubmitted,), handler=handler, emits=())
    worker = Worker(
        Bus(nc, "tester"), route, service="tester", tracer=trace.get_tracer("t"),
        concurrency=1, ack_wait_s=2.0, max_deliver=2,
    )  # fmt: skip
    await worker.start()
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await nc.jetstream().publish("nsed.tasks", b'{"task_id": "stray-1", "prompt": "p"}')
        [letter] = await until(lambda: nsed.dead_letters(nc, "tester", wait=0.1), timeout=30,
                               what="the dead letter")  # fmt: skip
    finally:
        stop.set()
        await running
        await worker.unsubscribe()
    assert "does not declare" in letter.error
    assert await nsed.task_events(nc, "stray-1", "continued") == []
