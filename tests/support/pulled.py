"""A route worker of its own for the pull loop's tests (``services._runtime.pull``), on a
connection of its own, and what a test reads of its pulls at the server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import trace

from schemas import subjects
from schemas.task import TaskSubmitted
from services._runtime.bus import Bus
from services._runtime.route import Delivery, Route
from services._runtime.worker import Worker
from tests.support import nsed

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


async def recording(url: str, concurrency: int) -> tuple[Replica, list[str]]:
    """A replica whose handler only records the task ids it handles, in order."""
    handled: list[str] = []

    async def handler(msg: TaskSubmitted, delivery: Delivery) -> None:
        handled.append(msg.task_id or "")

    return await Replica.start(url, handler, concurrency), handled


async def publish(nc: Client, task_id: str) -> None:
    await nc.jetstream().publish(
        subjects.TASKS, b'{"task_id": "%s", "prompt": "p"}' % task_id.encode()
    )


async def pull_requests(nc: Client) -> list[tuple[float, int]]:
    """Every pull request for the route from now on: when, and for how many messages."""
    seen: list[tuple[float, int]] = []

    async def record(msg: Msg) -> None:
        seen.append((time.monotonic(), json.loads(msg.data)["batch"]))

    await nc.subscribe(NEXT, cb=record)
    await nc.flush()
    return seen


async def waiting(nc: Client) -> int:
    return (await nc.jetstream().consumer_info(STREAM, ROUTE)).num_waiting
