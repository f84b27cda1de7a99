"""One route's consume loop in one process: pull requests out, messages to a handler in.

Consumes the route's durable pull consumer (``consumer.py``) through one subscription on an
inbox, ``<inbox>.*``. Emits pull requests on ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<name>``,
``{"batch": k, "expires": ns}``, each answered on its own ``<inbox>.<id>``, asking for as
many messages as there are free handling slots (``slots.py``): at first all of them, then
again whenever nothing is asked for or half the slots are free. Each message is handed to
``handle`` in its own task the moment it arrives, ``concurrency`` at most at once, so a
message waits for no batch to fill and a replica asks only for what it can start now.

The server answers a pull on its reply subject with messages and, when it ends the pull
before its batch is delivered, a status:

    408          expired: the count it left undelivered (its header) is free again
    409          ended (leadership change, consumer deleted, server shutdown): pull again;
                 a 409 for a limit the pull exceeded is a failure
    503, 404     no consumer (or JetStream not up yet): ``DurableConsumer.failed`` makes
                 it again and backs off, with one log line per outage
    100          an idle heartbeat (none is asked for): nothing

A server that restarts forgets its pulls without a word, so each pull also ends here
``GRACE_S`` after its expiry; a status for a pull made before an outage was handled (its
``generation``) reports nothing new. While the connection is away no pull is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services._runtime.consumer import DurableConsumer
from services._runtime.slots import Slots

EXPIRES_S = 1.75  # how long the server holds a pull with nothing to deliver
# A pull no status ended is over here this much later (the server restarted and forgot it):
# 2 s in all, as long as a pull waited before, so a restart is ridden out no slower.
GRACE_S = 0.25
OFFLINE_POLL_S = 0.25  # how often to look whether the connection is back, with slots free
STATUS = "Status"
DESCRIPTION = "Description"
PENDING = "Nats-Pending-Messages"
REFUSED = ("Exceeded", "Consumer is push based")  # 409s that a pull again would get again


class Puller:
    def __init__(
        self,
        nc: Client,
        consumer: DurableConsumer,
        concurrency: int,
        handle: Callable[[Msg], Awaitable[object]],
    ) -> None:
        self.nc = nc
        self.consumer = consumer
        self.handle = handle
        self.slots = Slots(concurrency)
        self.pulls = 0  # pull requests sent
        self._inbox = ""
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._failure: tuple[Exception, int] | None = None
        self._crash: BaseException | None = None
        self._closed = False

    @property
    def inbox(self) -> str:
        """The prefix of every pull's reply subject (``<inbox>.<pull id>``)."""
        return self._inbox

    async def subscribe(self) -> None:
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(f"{self._inbox}.*", cb=self._arrived)

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and hand out messages until ``stop``; then finish what is in hand."""
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set() and self._crash is None:
                if self._failure is not None:
                    exc, generation = self._failure
                    self._failure = None
                    await self.consumer.failed(exc, generation, stop)
                    continue
                await self._pull()
                if self._failure is None:  # a pull that could not be sent is handled first
                    await self._sleep()
            # A message whose pull was granted is handled even if a stop came meanwhile:
            # handling it now beats leaving it to wait out ack_wait.
            while self._tasks:
                await asyncio.wait(list(self._tasks))
        finally:
            stopping.cancel()
            self._closed = True
            for task in self._tasks:  # only when run itself is cancelled
                task.cancel()
        if self._crash is not None:
            raise self._crash

    async def _pull(self) -> None:
        wanted = self.slots.wanted()
        if not wanted or not self.nc.is_connected:
            return
        loop = asyncio.get_running_loop()
        generation = self.consumer.generation
        pull = self.slots.pulled(wanted, loop.time() + EXPIRES_S + GRACE_S, generation)
        request = b'{"batch":%d,"expires":%d}' % (wanted, int(EXPIRES_S * 1e9))
        try:
            await self.nc.publish(self.consumer.next_subject, request, f"{self._inbox}.{pull}")
        except nats.errors.Error as exc:  # the connection closing, or its buffer full
            self.slots.ended(pull, wanted)
            self._failure = (exc, generation)
            return
        self.pulls += 1

    async def _sleep(self) -> None:
        """Until a slot frees up, a pull ends, a stop, or the next pull's deadline."""
        loop = asyncio.get_running_loop()
        deadline = self.slots.next_deadline()
        if self.slots.wanted() and not self.nc.is_connected:
            deadline = min(deadline or float("inf"), loop.time() + OFFLINE_POLL_S)
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._wake.wait()
        self._wake.clear()
        self.slots.expire(loop.time())

    async def _arrived(self, msg: Msg) -> None:
        status = msg.headers.get(STATUS) if msg.headers and not msg.reply else None
        if status is not None:
            self._status(msg, status)
        elif not self._closed and self.slots.arrived():
            self.consumer.fetched()
            self._start(msg, in_slot=True)
        elif not self._closed and self._last_delivery(msg):
            self._start(msg, in_slot=False)  # given back, the server would drop it unhandled
        else:
            # No slot (the loop is over, or a pull this side had given up on delivered
            # anyway): give it back at once rather than after ack_wait.
            with contextlib.suppress(Exception):
                await msg.nak()

    def _last_delivery(self, msg: Msg) -> bool:
        most = self.consumer.config.max_deliver or 0
        with contextlib.suppress(Exception):  # no JetStream metadata: not a delivery
            return 0 < most <= msg.metadata.num_delivered
        return False

    def _start(self, msg: Msg, in_slot: bool) -> None:
        task = asyncio.create_task(self._handle(msg, in_slot))
        self._tasks.add(task)
        task.add_done_callback(self._handled)

    async def _handle(self, msg: Msg, in_slot: bool) -> None:
        try:
            await self.handle(msg)
        finally:
            if in_slot:
                self.slots.finished()
                if self.slots.wanted():
                    self._wake.set()

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._crash is None:
            self._crash = task.exception()  # a bug in the worker itself: the service stops
            self._wake.set()

    def _status(self, msg: Msg, status: str) -> None:
        if status == "100":
            return
        pull = msg.subject.rpartition(".")[2]
        pending = (msg.headers or {}).get(PENDING, "")
        if not pull.isdigit():
            return
        generation = self.slots.ended(int(pull), int(pending) if pending.isdigit() else None)
        self._wake.set()
        description = (msg.headers or {}).get(DESCRIPTION, "")
        if status == "408":
            self.consumer.fetched()  # the consumer is there: it answered
            return
        failed = status != "409" or description.startswith(REFUSED)
        if failed and generation is not None and self._failure is None:
            self._failure = (_error(int(status), description), generation)


def _error(code: int, description: str) -> nats.js.errors.APIError:
    if code == 503:
        return nats.js.errors.ServiceUnavailableError(code=code, description=description)
    if code == 404:
        return nats.js.errors.NotFoundError(code=code, description=description)
    return nats.js.errors.APIError(code=code, description=description)
