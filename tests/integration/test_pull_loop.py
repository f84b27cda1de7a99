"""The route workers' consume loop (``services._runtime.pull``) on a real nats-server:
replicas share a consumer and handle each message once, never more than ``concurrency`` at
a time; a pull request asks for many messages, so a stream of messages costs a few pulls
and an idle route one pull per expiry; a deleted consumer is made again and a NATS restart
is ridden out; a stop finishes what is in hand."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from opentelemetry import trace

from schemas import subjects
from schemas.task import TaskSubmitted
from services._runtime.bus import Bus, ensure_topology
from services._runtime.consumer import DurableConsumer
from services._runtime.pull import EXPIRES_S, Puller
from services._runtime.retry import TRANSIENT
from services._runtime.route import Delivery, Route
from services._runtime.worker import Worker
from tests.support import nsed
from tests.support.natsserver import NatsServer, kill9, restart
from tests.support.wait import until

ROUTE = "pulled"
STREAM = subjects.stream_for(TaskSubmitted)
NEXT = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{ROUTE}"
Handler = Callable[[TaskSubmitted, Delivery], Awaitable[None]]


@dataclass
class Replica:
    """One process's worker of the route, on a connection of its own."""

    nc: Client
    worker: Worker
    stop: asyncio.Event
    running: asyncio.Task[None]

    @classmethod
    async def start(
        cls, url: str, handler: Handler, concurrency: int, max_deliver: int = 5
    ) -> Replica:
        nc = await nsed.connect(url)
        route = Route(name=ROUTE, consumes=(TaskSubmitted,), handler=handler)
        worker = Worker(
            Bus(nc, "tester"), route, service="tester", tracer=trace.get_tracer("t"),
            concurrency=concurrency, ack_wait_s=30.0, max_deliver=max_deliver,
        )  # fmt: skip
        await worker.start()
        stop = asyncio.Event()
        return cls(nc, worker, stop, asyncio.create_task(worker.run(stop)))

    async def close(self) -> None:
        self.stop.set()
        await self.running
        await self.worker.unsubscribe()
        await self.nc.close()


async def _publish(nc: Client, task_id: str) -> None:
    await nc.jetstream().publish(
        subjects.TASKS, b'{"task_id": "%s", "prompt": "p"}' % task_id.encode()
    )


async def _pull_requests(nc: Client) -> list[tuple[float, int]]:
    """Every pull request for the route from now on: when, and for how many messages."""
    seen: list[tuple[float, int]] = []

    async def record(msg: Msg) -> None:
        seen.append((time.monotonic(), json.loads(msg.data)["batch"]))

    await nc.subscribe(NEXT, cb=record)
    await nc.flush()
    return seen


async def _waiting(nc: Client) -> int:
    return (await nc.jetstream().consumer_info(STREAM, ROUTE)).num_waiting


async def test_two_replicas_handle_every_message_once_and_never_more_than_concurrency_at_once(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    concurrency, count = 4, 300
    seen: Counter[str] = Counter()
    in_hand, most, handled = [0, 0], [0, 0], [0, 0]

    def handler_of(replica: int) -> Handler:
        async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
            in_hand[replica] += 1
            most[replica] = max(most[replica], in_hand[replica])
            try:
                await asyncio.sleep(random.random() * 0.005)  # the work: messages overlap
                seen[msg.task_id or ""] += 1
                handled[replica] += 1
            finally:
                in_hand[replica] -= 1

        return handler

    replicas = [await Replica.start(nats_server.url, handler_of(i), concurrency) for i in (0, 1)]
    try:
        ids = [f"once-{n}" for n in range(count)]
        await asyncio.gather(*(_publish(nc, task_id) for task_id in ids))
        await until(lambda: sum(seen.values()) >= count, timeout=60, what="every message")
    finally:
        for replica in replicas:
            await replica.close()
    assert seen == Counter(ids), "each message handled exactly once"
    assert all(handled), f"the replicas share the work: {handled}"
    assert max(most) == concurrency, f"at most {concurrency} at once, and that many: {most}"
    info = await nc.jetstream().consumer_info(STREAM, ROUTE)
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)


async def test_messages_one_after_another_take_a_few_pull_requests_not_one_each(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    pulls = await _pull_requests(nc)
    concurrency, count = 16, 60

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        return None

    replica = await Replica.start(nats_server.url, handler, concurrency)
    try:
        started = time.monotonic()
        for n in range(count):
            await _publish(nc, f"seq-{n}")
            await until(lambda n=n: replica.worker.handled > n, every=0.002, what=f"message {n}")
        elapsed = time.monotonic() - started
    finally:
        await replica.close()
    # A pull asks for every free slot, and again when half of them are: one pull per
    # `concurrency / 2` messages, or per expiry.
    bound = count // (concurrency // 2) + 2 + elapsed / EXPIRES_S
    assert len(pulls) <= bound, (len(pulls), elapsed)
    assert len(pulls) * 4 <= count


async def test_an_idle_route_sends_one_pull_request_per_expiry_for_all_its_slots(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    pulls = await _pull_requests(nc)

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        return None

    replica = await Replica.start(nats_server.url, handler, 16)
    try:
        await until(lambda: len(pulls) >= 4, timeout=30, what="four pull requests")
        waiting = await _waiting(nc)
    finally:
        await replica.close()
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(pulls[:4])]
    assert all(EXPIRES_S * 0.75 <= gap <= EXPIRES_S * 2 for gap in gaps), gaps
    assert [batch for _, batch in pulls[:4]] == [16] * 4
    assert waiting == 1, "one pull waits at the server for the process, not one per slot"


async def _overdeliver(nc: Client, replica: Replica, count: int) -> None:
    """Make the server send ``count`` messages more than the worker asked for: a pull from
    another client that the server answers on the worker's inbox, as a pull this side had
    already given up on would be answered."""
    inbox = replica.worker.puller.inbox
    await nc.publish(NEXT, b'{"batch": %d, "expires": 30000000000}' % count, f"{inbox}.0")
    await nc.flush()


async def test_messages_beyond_the_free_slots_are_given_back_and_handled_later_once(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    release = asyncio.Event()
    in_hand: list[str] = []
    deliveries: dict[str, int] = {}
    most = 0

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        nonlocal most
        in_hand.append(msg.task_id or "")
        most = max(most, len(in_hand))
        try:
            await release.wait()
            assert msg.task_id not in deliveries, "handled twice"
            deliveries[msg.task_id or ""] = delivery.delivered
        finally:
            in_hand.remove(msg.task_id or "")

    replica = await Replica.start(nats_server.url, handler, 2)
    try:
        await until(lambda: _waiting(nc), what="the worker's pull waiting")
        await _overdeliver(nc, replica, 3)
        ids = [f"extra-{n}" for n in range(5)]
        for task_id in ids:
            await _publish(nc, task_id)

        async def given_back() -> bool:
            # Five deliveries, and no pull left: three of them found no slot.
            info = await nc.jetstream().consumer_info(STREAM, ROUTE)
            return info.delivered.consumer_seq == 5 and info.num_waiting == 0

        await until(given_back, what="five deliveries, two in hand")
        release.set()
        await until(lambda: len(deliveries) == 5, what="every message")
    finally:
        release.set()
        await replica.close()
    assert sorted(deliveries) == ids
    assert most == 2, "never more in hand than the slots"
    assert sum(n - 1 for n in deliveries.values()) == 3, "the three given back came again"


async def test_a_message_on_its_last_delivery_is_handled_even_without_a_free_slot(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    release = asyncio.Event()
    in_hand: list[str] = []
    handled: list[str] = []

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        in_hand.append(msg.task_id or "")
        await release.wait()
        handled.append(msg.task_id or "")

    replica = await Replica.start(nats_server.url, handler, 2, max_deliver=1)
    try:
        await until(lambda: _waiting(nc), what="the worker's pull waiting")
        await _overdeliver(nc, replica, 3)
        ids = [f"last-{n}" for n in range(5)]
        for task_id in ids:
            await _publish(nc, task_id)
        # Given back, none of the three could be delivered again: the server would drop
        # them unhandled (no dead letter either).
        await until(lambda: len(in_hand) == 5, what="all five in hand")
        release.set()
        await until(lambda: len(handled) == 5, what="every message")
    finally:
        release.set()
        await replica.close()
    assert sorted(handled) == ids


async def test_a_deleted_consumer_is_made_again_with_one_warning(
    nats_server: NatsServer, nc: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    await ensure_topology(nc.jetstream())
    handled: list[str] = []

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        handled.append(msg.task_id or "")

    replica = await Replica.start(nats_server.url, handler, 8)
    try:
        await until(lambda: _waiting(nc), what="a pull waiting")
        await nc.jetstream().delete_consumer(STREAM, ROUTE)
        await _publish(nc, "after-delete")
        await until(lambda: handled == ["after-delete"], timeout=30, what="the message")
    finally:
        await replica.close()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e["route"] for e in lines if e["event"] == "fetch_failed"] == [ROUTE]


async def test_a_route_rides_out_a_nats_restart(nats_server: NatsServer, nc: Client) -> None:
    await ensure_topology(nc.jetstream())
    handled: list[str] = []

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        handled.append(msg.task_id or "")

    replica = await Replica.start(nats_server.url, handler, 8)
    try:
        await until(lambda: _waiting(nc), what="a pull waiting")
        kill9(nats_server)
        restart(nats_server)

        async def published() -> bool:
            try:
                await _publish(nc, "after-restart")
            except (*TRANSIENT, NotFoundError):
                return False
            return True

        await until(published, timeout=30, what="the server back")
        await until(lambda: handled == ["after-restart"], timeout=30, what="the message")
    finally:
        await replica.close()


async def test_a_stop_finishes_the_messages_in_hand_and_an_idle_one_returns_at_once(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    release = asyncio.Event()
    in_hand: list[str] = []

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        in_hand.append(msg.task_id or "")
        await release.wait()

    replica = await Replica.start(nats_server.url, handler, 8)
    for n in range(3):
        await _publish(nc, f"held-{n}")
    await until(lambda: len(in_hand) == 3, what="three messages in hand")
    replica.stop.set()
    await asyncio.sleep(0)
    assert not replica.running.done(), "the stop waits for the messages in hand"
    release.set()
    await replica.close()
    info = await nc.jetstream().consumer_info(STREAM, ROUTE)
    assert (replica.worker.handled, info.num_ack_pending) == (3, 0)

    idle = await Replica.start(nats_server.url, handler, 8)
    await until(lambda: _waiting(nc), what="a pull waiting")
    idle.stop.set()
    await asyncio.wait_for(asyncio.shield(idle.running), timeout=EXPIRES_S / 2)
    await idle.close()


async def test_a_handling_that_escapes_the_worker_stops_the_loop_with_its_error(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    route = Route(name=ROUTE, consumes=(TaskSubmitted,), handler=lambda m, d: None)  # type: ignore[arg-type,return-value]
    consumer = DurableConsumer(nc.jetstream(), route, ack_wait_s=30, max_deliver=5)
    await consumer.create()

    async def broken(msg: Msg) -> None:
        raise RuntimeError("a bug in the worker")

    puller = Puller(nc, consumer, 4, broken)
    await puller.subscribe()
    running = asyncio.create_task(puller.run(asyncio.Event()))
    await _publish(nc, "breaks")
    with pytest.raises(RuntimeError, match="a bug in the worker"):
        await asyncio.wait_for(running, timeout=30)
    await puller.unsubscribe()
