"""Talking to NSED as a client does, plus what tests need to check: results, DLQ entries."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import msgspec
import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from schemas import subjects
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded
from schemas.record import DeliberationRecord
from services._runtime import natsurls
from services._runtime.retry import TRANSIENT
from services.cli.client import stored_messages
from tests.support.wait import until


def new_task_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def task(
    task_id: str, prompt: str = "What is 17*23?", answer: str = "391", **policy: Any
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "prompt": prompt,
        "answer_format": "integer",
        "reference_answer": answer,
        "policy": {"deadline_s": 120, **policy},
    }


async def publish_task(nc: Client, body: dict[str, Any] | bytes, msg_id: str | None = None) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    await nc.jetstream().publish(subjects.TASKS, payload, headers=headers)


async def wait_result(nc: Client, task_id: str, timeout: float = 60.0) -> DeliberationConcluded:
    """The task's result from the results stream (wherever it was published from)."""
    js = nc.jetstream()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            msg = await js.get_last_msg(subjects.NSED_RESULTS, subjects.concluded(task_id))
            return msgspec.json.decode(msg.data, type=DeliberationConcluded)
        except (nats.js.errors.NotFoundError, *TRANSIENT):  # not yet, or NATS restarting
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no result for {task_id} within {timeout}s")
        await asyncio.sleep(0.1)


class ResultInbox:
    """What clients actually receive: a plain subscription on ``nsed.results.>``, opened
    before the first task and held for the whole test. It counts every delivery, so a
    second result that the stream's duplicate window would hide is seen here.

    To be sure no late duplicate is still on its way, stop the services (they drain their
    connections) or wait until they are ``idle``, then ``settle``: every message they
    published reaches this client before the server answers its flush."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.received: dict[str, list[DeliberationConcluded]] = {}
        self._decoder = msgspec.json.Decoder(DeliberationConcluded)
        # (lost, subscribed again) in epoch seconds, for each time the connection dropped
        self.gaps: list[tuple[float, float]] = []

    @classmethod
    async def open(cls, nc: Client) -> ResultInbox:
        inbox = cls(nc)
        await nc.subscribe(subjects.results("*"), cb=inbox._on_message)
        await nc.flush()
        return inbox

    @classmethod
    async def held(cls, url: str) -> ResultInbox:
        """An inbox on a connection of its own, held across NATS restarts: nats-py
        subscribes again after each reconnect, and ``gaps`` records when the subscription
        was away (nats-py flushes the new subscription before it calls back, so from then
        on the server has it). ``close`` it at the end."""
        lost: list[float] = []
        inbox: ResultInbox | None = None

        async def _lost() -> None:
            lost.append(time.time())

        async def _back() -> None:
            assert inbox is not None
            inbox.gaps.append((lost[-1] if lost else 0.0, time.time()))

        nc = await connect(url, disconnected_cb=_lost, reconnected_cb=_back)
        inbox = await cls.open(nc)
        return inbox

    def must_have(self, stored_at: float) -> bool:
        """Whether a result the stream stored at ``stored_at`` (epoch seconds) was published
        while this inbox was subscribed. A plain subscriber does not get what is published
        while it is reconnecting (the stream keeps it, for clients to look up)."""
        return not any(lost <= stored_at < back for lost, back in self.gaps)

    async def close(self) -> None:
        await self.nc.close()

    async def _on_message(self, msg: Msg) -> None:
        result = self._decoder.decode(msg.data)
        self.received.setdefault(result.task_id, []).append(result)

    async def result(self, task_id: str, timeout: float = 60.0) -> DeliberationConcluded:
        """The first result received for ``task_id``."""
        await until(lambda: self.received.get(task_id), timeout=timeout, what=f"{task_id}'s result")
        return self.received[task_id][0]

    async def results(
        self, task_ids: list[str], timeout: float = 60.0
    ) -> list[DeliberationConcluded]:
        """The first result received for each of ``task_ids``, all within one ``timeout``."""

        def missing() -> list[str]:
            return [t for t in task_ids if t not in self.received]

        try:
            await until(lambda: not missing(), timeout=timeout, what="every result")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {len(missing())} missing, {missing()[:3]}") from None
        return [self.received[t][0] for t in task_ids]

    def count(self, task_id: str) -> int:
        return len(self.received.get(task_id, ()))

    async def settle(self) -> None:
        await self.nc.flush(timeout=10)


async def idle(nc: Client) -> bool:
    """Whether no service has work pending or in hand: every durable consumer on the task,
    work and event streams has nothing left to deliver and nothing unacknowledged. A
    handler publishes its outputs before it acknowledges, so once this holds, everything
    handled has been published (timers are left out: a timer of a finished task emits
    nothing)."""
    js = nc.jetstream()
    for stream in (subjects.NSED_TASKS, subjects.NSED_WORK, subjects.NSED_EVENTS):
        for consumer in await js.consumers_info(stream):
            if consumer.num_pending or consumer.num_ack_pending:
                return False
    return True


async def stored_result(nc: Client, task_id: str) -> DeliberationConcluded | None:
    """The result the task's deliberation record holds (what every delivery must equal)."""
    kv = await nc.jetstream().key_value(subjects.DELIBERATIONS_BUCKET)
    entry = await kv.get(task_id)
    assert entry.value is not None
    return msgspec.json.decode(entry.value, type=DeliberationRecord).result


async def stored_results(nc: Client, task_ids: set[str]) -> dict[str, list[Msg]]:
    """Every result message the results stream holds for ``task_ids``, by task id."""
    found: dict[str, list[Msg]] = {t: [] for t in task_ids}
    stored = await stored_messages(nc, subjects.concluded("*"), subjects.NSED_RESULTS, idle_s=0.5)
    for msg in stored:
        task_id = msg.subject.rsplit(".", 1)[-1]
        if task_id in found:
            found[task_id].append(msg)
    return found


async def dead_letters(nc: Client, service: str, wait: float = 0.5) -> list[DeadLetter]:
    stored = await stored_messages(nc, subjects.dlq(service), subjects.NSED_DLQ, idle_s=wait)
    return [msgspec.json.decode(msg.data, type=DeadLetter) for msg in stored]


# An event's kind (``team``, ``proposal``, ...) → its message type, from the flow table.
_EVENT_KINDS = {
    step.subject.split(".")[3]: step.message
    for step in subjects.FLOW
    if step.subject.startswith("nsed.events.")
}


async def task_events(
    nc: Client, task_id: str, kind: str, wait: float = 0.3
) -> list[dict[str, Any]]:
    """A task's stored events of one kind (every agent's, for proposals and reviews)."""
    where = subjects.filter_for(_EVENT_KINDS[kind], task_id=task_id)
    stored = await stored_messages(nc, where, subjects.NSED_EVENTS, idle_s=wait)
    return [json.loads(msg.data) for msg in stored]


async def task_ballots(nc: Client, task_id: str, wait: float = 0.3) -> list[dict[str, Any]]:
    """Every ballot of a task, as its rounds' tallies carry them (ballots are no messages
    of their own: the voter keeps them in the record and sends them with the tally)."""
    return [b for t in await task_events(nc, task_id, "tally", wait) for b in t["ballots"]]


async def connect(url: str, **callbacks: Any) -> Client:
    """A test's client: reconnects forever, and quietly (nats-py logs every failed try at
    ERROR, with a traceback, unless given an error callback); ``url`` may list a cluster's
    nodes."""

    async def _quiet(_: Exception) -> None:
        return None

    return await nats.connect(
        natsurls.split(url),
        connect_timeout=5,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        error_cb=_quiet,
        **callbacks,
    )


async def trace_ids_of_events(nc: Client, task_id: str, wait: float = 0.3) -> set[str]:
    """The trace ids in the ``traceparent`` headers of every event of a task."""
    stored = await stored_messages(
        nc, subjects.task_events(task_id), subjects.NSED_EVENTS, idle_s=wait
    )
    found: set[str] = set()
    for msg in stored:
        traceparent = (msg.headers or {}).get("traceparent", "")
        found.add(traceparent.split("-")[1] if traceparent.count("-") == 3 else "missing")
    return found
