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

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from schemas.task import TaskSubmitted
from services._runtime.bus import ensure_topology
from services._runtime.consumer import DurableConsumer
from services._runtime.pull import EXPIRES_S, Puller
from services._runtime.retry import TRANSIENT
from services._runtime.route import Delivery, Route
from tests.support import pulled
from tests.support.natsserver import NatsServer, kill9, restart
from tests.support.wait import until


async def _settled(nc: Client) -> ConsumerInfo | None:
    """The consumer once the server has taken in every acknowledgement (on a queue of its
    own, after the replicas sent them)."""
    info = await nc.jetstream().consumer_info(pulled.STREAM, pulled.ROUTE)
    return info if info.num_ack_pending == 0 else None


async def test_two_replicas_handle_every_message_once_and_never_more_than_concurrency_at_once(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    concurrency, count = 4, 300
    seen: Counter[str] = Counter()
    in_hand, most, handled = [0, 0], [0, 0], [0, 0]

    def handler_of(replica: int) -> pulled.Handler:
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

    replicas = [
        await pulled.Replica.start(nats_server.url, handler_of(i), concurrency) for i in (0, 1)
    ]
    try:
        ids = [f"once-{n}" for n in range(count)]
        await asyncio.gather(*(pulled.publish(nc, task_id) for task_id in ids))
        await until(lambda: sum(seen.values()) >= count, timeout=60, what="every message")
    finally:
        for replica in replicas:
            await replica.close()
    assert seen == Counter(ids), "each message handled exactly once"
    assert all(handled), f"the replicas share the work: {handled}"
    assert max(most) == concurrency, f"at most {concurrency} at once, and that many: {most}"
    info = await until(lambda: _settled(nc), what="every message acknowledged")
    assert (info.num_pending, info.num_redelivered) == (0, 0), "none delivered twice"


async def test_messages_one_after_another_take_a_few_pull_requests_not_one_each(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    pulls = await pulled.pull_requests(nc)
    concurrency, count = 16, 60

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        return None

    replica = await pulled.Replica.start(nats_server.url, handler, concurrency)
    try:
        started = time.monotonic()
        for n in range(count):
            await pulled.publish(nc, f"seq-{n}")
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
    pulls = await pulled.pull_requests(nc)

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        return None

    replica = await pulled.Replica.start(nats_server.url, handler, 16)
    try:
        await until(lambda: len(pulls) >= 4, timeout=30, what="four pull requests")
        waiting = await pulled.waiting(nc)
    finally:
        await replica.close()
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(pulls[:4])]
    assert all(EXPIRES_S * 0.75 <= gap <= EXPIRES_S * 2 for gap in gaps), gaps
    assert [batch for _, batch in pulls[:4]] == [16] * 4
    assert waiting == 1, "one pull waits at the server for the process, not one per slot"


async def test_a_deleted_consumer_is_made_again_with_one_warning(
    nats_server: NatsServer, nc: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    await ensure_topology(nc.jetstream())
    replica, handled = await pulled.recording(nats_server.url, 8)
    try:
        await until(lambda: pulled.waiting(nc), what="a pull waiting")
        await nc.jetstream().delete_consumer(pulled.STREAM, pulled.ROUTE)
        await pulled.publish(nc, "after-delete")
        await until(lambda: handled == ["after-delete"], timeout=30, what="the message")
    finally:
        await replica.close()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e["route"] for e in lines if e["event"] == "fetch_failed"] == [pulled.ROUTE]


async def test_a_route_rides_out_a_nats_restart(nats_server: NatsServer, nc: Client) -> None:
    await ensure_topology(nc.jetstream())
    replica, handled = await pulled.recording(nats_server.url, 8)
    try:
        await until(lambda: pulled.waiting(nc), what="a pull waiting")
        kill9(nats_server)
        restart(nats_server)

        async def published() -> bool:
            try:
                await pulled.publish(nc, "after-restart")
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

    replica = await pulled.Replica.start(nats_server.url, handler, 8)
    for n in range(3):
        await pulled.publish(nc, f"held-{n}")
    await until(lambda: len(in_hand) == 3, what="three messages in hand")
    replica.stop.set()
    await asyncio.sleep(0)
    assert not replica.running.done(), "the stop waits for the messages in hand"
    release.set()
    await replica.close()
    assert replica.worker.handled == 3
    await until(lambda: _settled(nc), what="the three acknowledged")

    idle = await pulled.Replica.start(nats_server.url, handler, 8)
    await until(lambda: pulled.waiting(nc), what="a pull waiting")
    idle.stop.set()
    await asyncio.wait_for(asyncio.shield(idle.running), timeout=EXPIRES_S / 2)
    await idle.close()


async def test_a_handling_that_escapes_the_worker_stops_the_loop_with_its_error(
    nats_server: NatsServer, nc: Client
) -> None:
    await ensure_topology(nc.jetstream())
    route = Route(name=pulled.ROUTE, consumes=(TaskSubmitted,), handler=lambda m, d: None)  # type: ignore[arg-type,return-value]
    consumer = DurableConsumer(nc.jetstream(), route, ack_wait_s=30, max_deliver=5)
    await consumer.create()

    async def broken(msg: Msg) -> None:
        raise RuntimeError("a bug in the worker")

    puller = Puller(nc, consumer, 4, broken)
    await puller.subscribe()
    running = asyncio.create_task(puller.run(asyncio.Event()))
    await pulled.publish(nc, "breaks")
    with pytest.raises(RuntimeError, match="a bug in the worker"):
        await asyncio.wait_for(running, timeout=30)
    await puller.unsubscribe()
