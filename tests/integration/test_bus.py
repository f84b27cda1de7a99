"""Publishing on a real JetStream: what plain subscribers receive."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from opentelemetry import trace

from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState
from schemas.task import TaskSubmitted
from services._runtime.bus import Bus, ensure_topology
from services._runtime.route import Delivery, Route
from services._runtime.worker import Worker
from services.core import ids
from tests.support import nsed
from tests.support.messages import concluded
from tests.support.natsserver import NatsServer
from tests.support.wait import until


async def test_a_result_published_again_reaches_plain_subscribers_once(nc: Client) -> None:
    # A handler re-run after a redelivery emits its result again: the stream's duplicate
    # window would drop it, but a plain subscriber would receive it a second time.
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    bus = Bus(nc, "gate")
    await bus.publish(concluded("once-1"))
    await bus.publish(concluded("once-1"))
    await Bus(nc, "gate").publish(concluded("once-1"))  # another replica's re-run
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
    await asyncio.gather(*(bus.publish(concluded("together-1")) for _ in range(3)))
    await inbox.settle()
    assert inbox.count("together-1") == 1


async def test_a_result_two_replicas_emit_at_once_reaches_plain_subscribers_once(
    nc: Client, nats_server: NatsServer
) -> None:
    # After a NATS restart two gate replicas can hold deliveries of one tally at once: each
    # finds the stream without the result, and both publish. The stream stores one (the
    # duplicate window) and republishes only what it stores.
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    replicas = [Bus(await nsed.connect(nats_server.url), "gate") for _ in range(3)]
    try:
        await asyncio.gather(*(bus.publish(concluded("replicas-1")) for bus in replicas))
        await inbox.settle()
        assert inbox.count("replicas-1") == 1
    finally:
        for bus in replicas:
            await bus.nc.close()


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
    await bus.publish(concluded("other-1"))
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
