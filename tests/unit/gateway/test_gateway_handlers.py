"""``Council.deliberate`` with a fake feed and outbox (no network): it yields the task's
events to its result, and cancels the task whenever the request ends without one; and a
result without an answer is the error its stop reason says (``replies.error_for``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from schemas.gate import DeliberationConcluded
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import Seat, TeamSelected
from services.broker.registry import LiveAgent
from services.gateway.errors import DeadlineExceeded, Failed, NoTeam
from services.gateway.handlers import Council
from services.gateway.replies import error_for
from services.gateway.settings import GatewaySettings

TASK = TaskSubmitted(task_id="gw-1", prompt="What is 6*7?")


class Fake:
    """The feed and the outbox: events are fed to a follower by the test."""

    def __init__(self, events: list[Any], *, has_record: bool = True) -> None:
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        for event in events:
            self.events.put_nowait(event)
        self.submitted: list[tuple[TaskSubmitted, str | None]] = []
        self.cancelled: list[str] = []
        self.has_record = has_record
        self.waiting = asyncio.Event()  # a follower waits for the next event

    def live_agents(self) -> list[LiveAgent]:
        return []

    async def appeared(self, task_id: str, timeout: float) -> bool:
        return self.has_record

    @contextlib.asynccontextmanager
    async def follow(self, task_id: str) -> AsyncIterator[AsyncIterator[Any]]:
        async def iterate() -> AsyncIterator[Any]:
            while True:
                if self.events.empty():
                    self.waiting.set()
                yield await self.events.get()

        yield iterate()

    async def submit(self, task: TaskSubmitted, traceparent: str | None) -> None:
        self.submitted.append((task, traceparent))

    async def cancel(self, task_id: str, reason: str) -> None:
        self.cancelled.append(task_id)


def council(fake: Fake, **settings: Any) -> Council:
    return Council(feed=fake, outbox=fake, settings=GatewaySettings(**settings))


def result(**fields: Any) -> DeliberationConcluded:
    base: dict[str, Any] = {"task_id": "gw-1", "round": 1, "message_id": "r", "status": "completed",
                            "stop_reason": "converged", "answer": "42"}  # fmt: skip
    return DeliberationConcluded(**{**base, **fields})


TEAM = TeamSelected(task_id="gw-1", round=1, message_id="team", seats=(Seat(seat=0, agent_id="a"),))


async def test_the_events_come_to_the_result_and_nothing_is_cancelled() -> None:
    fake = Fake([TEAM, result()])
    the_council = council(fake)
    seen = [event async for event in the_council.deliberate(TASK, "00-trace")]
    assert seen == [TEAM, result()]
    assert fake.submitted == [(TASK, "00-trace")]
    await the_council.settle()
    assert fake.cancelled == []


async def test_a_caller_that_stops_before_the_result_cancels_the_task() -> None:
    fake = Fake([TEAM])
    the_council = council(fake)
    events = the_council.deliberate(TASK, None)
    assert await anext(events) == TEAM
    await events.aclose()  # the client went away
    await the_council.settle()
    assert fake.cancelled == ["gw-1"]


async def test_a_request_cancelled_as_an_event_arrives_cancels_the_task() -> None:
    fake = Fake([TEAM])
    the_council = council(fake)

    async def consume() -> None:
        async for _ in the_council.deliberate(TASK, None):
            pass

    waiting = asyncio.create_task(consume())
    await fake.waiting.wait()  # the team has been taken; it now waits for more
    # The client goes away just as an event comes: the cancel must not be lost to it.
    fake.events.put_nowait(TEAM)
    waiting.cancel()  # aiohttp cancels the handler of a client that disconnected
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, timeout=5)
    await the_council.settle()
    assert fake.cancelled == ["gw-1"]


@pytest.mark.parametrize("has_record", [True, False])
async def test_nothing_by_the_team_wait_is_a_deadline_and_the_task_is_cancelled(
    has_record: bool,
) -> None:
    fake = Fake([], has_record=has_record)
    the_council = council(fake, team_wait_s=0.05)
    with pytest.raises(DeadlineExceeded):
        async for _ in the_council.deliberate(TASK, None):
            pass
    await the_council.settle()
    assert fake.cancelled == ["gw-1"]  # a cancel with no record yet goes out all the same


async def test_a_refused_task_is_an_error_not_a_hang() -> None:
    fake = Fake([TaskRefused(task_id="gw-1", message_id="x", reason="id in use")])
    with pytest.raises(Failed, match="id in use"):
        async for _ in council(fake).deliberate(TASK, None):
            pass


def test_an_empty_pool_is_refused_before_any_task_is_sent() -> None:
    with pytest.raises(NoTeam, match="no live agents"):
        council(Fake([])).check_pool()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, None),
        ({"status": "degraded", "stop_reason": "deadline"}, None),  # an answer all the same
        ({"status": "failed", "stop_reason": "no_team", "answer": None}, NoTeam),
        ({"status": "failed", "stop_reason": "deadline", "answer": None}, DeadlineExceeded),
        ({"status": "failed", "stop_reason": "no_quorum", "answer": None}, Failed),
        ({"status": "failed", "stop_reason": "error", "answer": None}, Failed),
    ],
)
def test_a_result_without_an_answer_is_the_error_its_stop_reason_says(
    fields: dict[str, Any], error: type[Exception] | None
) -> None:
    found = error_for(result(detail="why", **fields))
    assert (type(found) if found is not None else None) is error
    assert found is None or "why" in found.message
