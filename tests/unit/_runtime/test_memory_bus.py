"""The in-memory bus: subjects reach the routes NATS would deliver them to (every flow step's
consumers, and no one else), a repeated message id is dropped, and each delivery is settled
as the worker settles it (outputs published, timers held until due, retries bounded,
rejections and undecodable payloads dead-lettered)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import subjects
from schemas.base import TOKEN_PATTERN, Message
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded
from schemas.task import TaskSubmitted
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, Rejected, Retryable
from services._runtime.memory_bus import MemoryBus, Pending, matches
from services._runtime.route import Delivery, Route
from services.agent_runner.config import load_pool
from services.core import ids
from services.inmemory import ManualClock, in_memory
from tests.support.messages import concluded

from ..builders import NOW
from ..opened_task import task

POOL = Path(__file__).resolve().parents[2] / "data" / "pool.toml"
tokens = st.from_regex(TOKEN_PATTERN, fullmatch=True)
subject_tokens = st.lists(tokens, min_size=1, max_size=6)


@given(subject_tokens, st.data())
def test_a_filter_made_from_a_subject_matches_it_and_a_changed_token_does_not(
    parts: list[str], data: st.DataObject
) -> None:
    """NATS semantics: ``*`` stands for one token, ``>`` for one or more at the end."""
    wild = data.draw(st.lists(st.booleans(), min_size=len(parts), max_size=len(parts)))
    pattern = [("*" if w else p) for p, w in zip(parts, wild, strict=True)]
    subject = ".".join(parts)
    assert matches(".".join(pattern), subject)
    cut = data.draw(st.integers(0, len(parts) - 1))
    assert matches(".".join([*pattern[:cut], ">"]), subject)
    assert not matches(".".join([*pattern, ">"]), subject)  # ">" needs a token
    assert not matches(".".join([*pattern, "*"]), subject)
    literal = [i for i, w in enumerate(wild) if not w]
    if literal:
        i = data.draw(st.sampled_from(literal))
        other = [*pattern[:i], pattern[i] + "x", *pattern[i + 1 :]]
        assert not matches(".".join(other), subject)


def _subject(template: str, task_id: str, agent: str, owner: str) -> str:
    fill = {"task_id": task_id, "agent_id": agent, "owner": owner, "service": "broker"}
    return re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], template)


@given(
    task_id=tokens,
    agent=st.sampled_from(["alpha", "zulu"]),
    owner=st.sampled_from(["reviewer", "gate"]),
)
def test_every_subject_of_the_flow_reaches_the_services_the_flow_table_names(
    task_id: str, agent: str, owner: str
) -> None:
    services = in_memory(ManualClock(NOW))
    services.add_agent(load_pool(POOL).agent("alpha"))  # the one runner: alpha's
    bus = services.bus()
    for step in subjects.FLOW:
        subject = _subject(step.subject, task_id, agent, owner)
        reached = {service for service, _ in bus.subscribers(subject)}
        expected = set(step.consumers) - {"observers", "client"}
        if step.message is PhaseDue:
            expected &= {owner}
        if "agent_runner" in expected and agent != "alpha":
            expected.discard("agent_runner")  # another agent's work: not this runner's
        assert reached == expected, (step.message.__name__, subject)
        assert len(bus.subscribers(subject)) == len(reached)  # one durable per service


class Recorder:
    """A handler whose behaviour the test sets, recording what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Delivery]] = []
        self.raises: list[Exception] = []
        self.returns: list[Message] = []

    async def __call__(self, message: Any, delivery: Delivery) -> list[Message]:
        self.calls.append((message, delivery))
        if self.raises:
            raise self.raises.pop(0)
        return self.returns


def one_route(handler: Recorder, **route: Any) -> tuple[MemoryBus, ManualClock]:
    clock = ManualClock(NOW)
    table = Route(
        name="gate-timers",
        consumes=(PhaseDue,),
        handler=handler,
        emits=(DeliberationConcluded,),
        filter_subject=subjects.filter_for(PhaseDue, owner="gate"),
        **route,
    )
    return MemoryBus({"gate": (table,)}, clock), clock


def due(at: float, task_id: str = "t1") -> PhaseDue:
    return PhaseDue(
        task_id=task_id,
        round=0,
        message_id=ids.timer(task_id, 0, "task"),
        phase="task",
        owner="gate",
        due_at=at,
    )


async def test_a_repeated_message_id_is_stored_and_delivered_once() -> None:
    handler = Recorder()
    bus, _ = one_route(handler)
    bus.publish([due(NOW), due(NOW), due(NOW, "t2")])
    assert await bus.run() == 2
    assert [m.task_id for m, _ in handler.calls] == ["t1", "t2"]
    assert [d.stream_seq for _, d in handler.calls] == [1, 2]
    assert len(bus.of_type(PhaseDue)) == 2


async def test_a_timer_not_yet_due_is_held_until_the_clock_reaches_it() -> None:
    handler = Recorder()
    handler.raises = [NotYetDue(30.0)]
    handler.returns = [concluded()]
    bus, clock = one_route(handler)
    bus.publish([due(NOW + 30)])
    await bus.run()
    assert bus.of_type(DeliberationConcluded) == []
    assert bus.next_due() == NOW + 30
    clock.now = NOW + 29
    assert await bus.run() == 0
    clock.now = NOW + 30
    assert await bus.run() == 1
    assert bus.of_type(DeliberationConcluded) == [concluded()]
    assert [d.delivered for _, d in handler.calls] == [1, 2]


def armed(round_number: int, at: float) -> PhaseDue:
    return PhaseDue(
        task_id="t1",
        round=round_number,
        message_id=ids.timer("t1", round_number, "reviewing"),
        phase="reviewing",
        owner="gate",
        due_at=at,
    )


async def test_a_later_rounds_timer_replaces_the_earlier_one_still_waiting() -> None:
    handler = Recorder()
    handler.raises = [NotYetDue(30.0), NotYetDue(60.0)]
    bus, clock = one_route(handler)
    bus.publish([armed(1, NOW + 30)])
    await bus.run()  # round 1's: early, held
    bus.publish([armed(2, NOW + 60)])  # replaces it
    bus.publish([msgspec.structs.replace(armed(1, NOW + 30), message_id="again")])  # ignored
    await bus.run()
    clock.now = NOW + 60
    assert await bus.run() == 1  # round 2's only: round 1's never falls due
    assert [(m.round, d.delivered) for m, d in handler.calls] == [(1, 1), (2, 1), (2, 2)]
    assert bus.of_type(PhaseDue) == [armed(1, NOW + 30), armed(2, NOW + 60)]


async def test_a_retry_is_delivered_again_up_to_the_routes_limit_then_dead_lettered() -> None:
    handler = Recorder()
    handler.raises = [Retryable("busy"), Retryable("busy"), Retryable("busy")]
    bus, _ = one_route(handler, max_deliver=3)
    bus.publish([due(NOW)])
    await bus.run()
    assert [d.delivered for _, d in handler.calls] == [1, 2, 3]
    [letter] = bus.of_type(DeadLetter)
    assert (letter.service, letter.error) == ("gate", "still failing: busy")
    assert letter.message_id == "dlq:gate-timers:1"


async def test_a_rejected_or_undecodable_message_is_dead_lettered_with_the_reason() -> None:
    handler = Recorder()
    handler.raises = [Rejected("no such task")]
    bus, _ = one_route(handler)
    bus.publish([due(NOW)])
    await bus.run()
    [letter] = bus.of_type(DeadLetter)
    assert (letter.error, letter.subject, letter.stream_seq) == (
        "no such task",
        "nsed.timers.gate",
        1,
    )
    # A payload the route cannot decode never reaches the handler.
    bad = Delivery("nsed.timers.gate", 9, 1, msgspec.json.encode({"type": "phase.due"}))
    bus.ready.append(Pending("gate", bus.routes["gate"][0], bad))
    await bus.run()
    assert len(handler.calls) == 1
    undecodable = bus.published["dlq:gate-timers:9"]
    assert isinstance(undecodable, DeadLetter)
    assert undecodable.error == "task_id: is required"


async def test_an_undeclared_output_fails_loudly_and_publishes_nothing() -> None:
    handler = Recorder()
    handler.returns = [task("t1")]
    bus, _ = one_route(handler)
    bus.publish([due(NOW)])
    with pytest.raises(Exception, match="emitted TaskSubmitted"):
        await bus.run()
    assert bus.of_type(TaskSubmitted) == []


async def test_a_message_no_route_takes_is_kept_and_handing_it_over_says_so() -> None:
    bus, _ = one_route(Recorder())
    bus.publish([concluded()])
    assert await bus.run() == 0
    assert bus.of_type(DeliberationConcluded) == [concluded()]
    with pytest.raises(LookupError, match=r"no route subscribes to nsed\.concluded\.t1"):
        await bus.handle(concluded())
