"""Messages the server sends beyond a worker's free slots (``services._runtime.pull``), on
a real nats-server: given back and handled later, once each, never more in hand than the
slots; on their last delivery handled at once instead, since the server would drop them
unhandled."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from schemas.task import TaskSubmitted
from services._runtime.bus import ensure_topology
from services._runtime.route import Delivery
from tests.support import pulled
from tests.support.natsserver import NatsServer
from tests.support.wait import until


async def _overdeliver(nc: Client, replica: pulled.Replica, count: int) -> None:
    """Make the server send ``count`` messages more than the worker asked for: a pull from
    another client that the server answers on the worker's inbox, as a pull this side had
    already given up on would be answered."""
    inbox = replica.worker.puller.inbox
    await nc.publish(pulled.NEXT, b'{"batch": %d, "expires": 30000000000}' % count, f"{inbox}.0")
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

    replica = await pulled.Replica.start(nats_server.url, handler, 2)
    try:
        await until(lambda: pulled.waiting(nc), what="the worker's pull waiting")
        await _overdeliver(nc, replica, 3)
        ids = [f"extra-{n}" for n in range(5)]
        for task_id in ids:
            await pulled.publish(nc, task_id)

        async def given_back() -> bool:
            # Five deliveries, and no pull left: three of them found no slot.
            info = await nc.jetstream().consumer_info(pulled.STREAM, pulled.ROUTE)
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

    replica = await pulled.Replica.start(nats_server.url, handler, 2, max_deliver=1)
    try:
        await until(lambda: pulled.waiting(nc), what="the worker's pull waiting")
        await _overdeliver(nc, replica, 3)
        ids = [f"last-{n}" for n in range(5)]
        for task_id in ids:
            await pulled.publish(nc, task_id)
        # Given back, none of the three could be delivered again: the server would drop
        # them unhandled (no dead letter either).
        await until(lambda: len(in_hand) == 5, what="all five in hand")
        release.set()
        await until(lambda: len(handled) == 5, what="every message")
    finally:
        release.set()
        await replica.close()
    assert sorted(handled) == ids
