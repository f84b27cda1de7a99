"""Submitting tasks to a stack and collecting their results, for the benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.task import Policy, TaskSubmitted

_result = msgspec.json.Decoder(DeliberationConcluded)


@dataclass
class Collector:
    """Every result seen on ``nsed.results.>``, counted per task (duplicates show up)."""

    results: dict[str, DeliberationConcluded] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    arrived: dict[str, asyncio.Event] = field(default_factory=dict)

    async def on_message(self, msg: Any) -> None:
        result = _result.decode(msg.data)
        self.counts[result.task_id] += 1
        self.results.setdefault(result.task_id, result)
        self.arrived.setdefault(result.task_id, asyncio.Event()).set()

    async def wait(self, task_id: str, timeout: float) -> DeliberationConcluded | None:
        event = self.arrived.setdefault(task_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return None
        return self.results[task_id]


def task(
    task_id: str, policy: Policy, prompt: str = "What is 17*23?", answer: str = "391"
) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt=prompt,
        domain="math",
        answer_format="integer",
        reference_answer=answer,
        policy=policy,
    )


async def submit(nc: Client, item: TaskSubmitted) -> None:
    assert item.task_id is not None
    await nc.jetstream().publish(
        subjects.TASKS, msgspec.json.encode(item), headers={"Nats-Msg-Id": item.task_id}
    )


async def listen(nc: Client) -> tuple[Collector, Any]:
    collector = Collector()
    sub = await nc.subscribe(subjects.RESULTS.format(task_id="*"), cb=collector.on_message)
    return collector, sub


def now() -> float:
    return time.perf_counter()
