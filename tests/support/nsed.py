"""Talking to NSED as a client does, plus what tests need to check: results, DLQ entries."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import msgspec
import nats
import nats.errors
from nats.aio.client import Client

from schemas import subjects
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded
from services.cli.client import stored_messages


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
            msg = await js.get_last_msg(subjects.NSED_RESULTS, subjects.results(task_id))
            return msgspec.json.decode(msg.data, type=DeliberationConcluded)
        except nats.js.errors.NotFoundError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no result for {task_id} within {timeout}s")
        await asyncio.sleep(0.1)


async def results_count(nc: Client, task_id: str) -> int:
    """How many results the stream holds for one task (the promise is exactly one)."""
    info = await nc.jetstream().stream_info(
        subjects.NSED_RESULTS, subjects_filter=subjects.results(task_id)
    )
    return int((info.state.subjects or {}).get(subjects.results(task_id), 0))


async def dead_letters(nc: Client, service: str, wait: float = 0.5) -> list[DeadLetter]:
    stored = await stored_messages(nc, subjects.dlq(service), subjects.NSED_DLQ, idle_s=wait)
    return [msgspec.json.decode(msg.data, type=DeadLetter) for msg in stored]


async def task_events(
    nc: Client, task_id: str, kind: str, wait: float = 0.3
) -> list[dict[str, Any]]:
    stored = await stored_messages(
        nc, f"nsed.events.{task_id}.{kind}", subjects.NSED_EVENTS, idle_s=wait
    )
    return [json.loads(msg.data) for msg in stored]


async def connect(url: str) -> Client:
    return await nats.connect(
        url, connect_timeout=5, max_reconnect_attempts=-1, reconnect_time_wait=0.2
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
