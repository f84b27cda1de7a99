"""Whole deliberations with the default simulated pool, every service's handlers wired by an
in-memory "bus" that delivers each message twice (at-least-once) and drops repeated
message ids (JetStream's duplicate window). No NATS, no sleeping, no wall clock."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import subjects
from schemas.ballot import BallotAccepted
from schemas.base import Message
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime.route import Delivery
from services.agent_runner import handlers as runner
from services.agent_runner.backends.sim import SimBackend
from services.agent_runner.config import load_pool
from services.agent_runner.heartbeat import card_of
from services.agent_runner.service import reference_reader
from services.broker import handlers as broker
from services.gate import handlers as gate
from services.reviewer import handlers as reviewer
from services.voter import handlers as voter

from .builders import NOW
from .conftest import Stack

POOL = Path(__file__).resolve().parents[2] / "infra" / "agents" / "sim.toml"


async def no_sleep(seconds: float) -> None:
    return None


def untimed(messages: list[Message]) -> list[Message]:
    """Agent outputs carry the measured call latency, the one thing a rerun may change."""
    return [
        msgspec.structs.replace(m, latency_s=0.0)
        if isinstance(m, (ProposalSubmitted, ReviewSubmitted))
        else m
        for m in messages
    ]


class Bus:
    def __init__(self, stack: Stack, pool_path: Path = POOL) -> None:
        self.stack = stack
        self.published: dict[str, Message] = {}
        self.queue: deque[Message] = deque()
        pool = load_pool(pool_path)
        stack.registry.clear()
        truth = reference_reader(stack.store, capacity=16)
        self.runners = {}
        for profile in pool.agents:
            stack.registry.put(
                subjects.agent_key(profile.id, "i1"),
                card_of(profile, "i1", 0, started_at=NOW, now=NOW),
            )
            backend = SimBackend(profile, truth, sleep=no_sleep)
            self.runners[profile.id] = runner.RunnerDeps(
                profile=profile, instance_id="i1", backend=backend, clock=stack.clock
            )

    def publish(self, messages: list[Message]) -> None:
        for msg in messages:
            key = getattr(msg, "message_id", None) or repr(msg)
            if key in self.published:
                assert self.published[key] == msg, f"{key} re-published with other content"
                continue
            self.published[key] = msg
            self.queue.append(msg)

    async def handle(self, msg: Message) -> list[Message] | None:
        s = self.stack
        route: Any
        if isinstance(msg, (ProposeRequested, ReviewRequested)):
            route = (runner.on_work, self.runners[msg.agent_id])
        elif isinstance(msg, (ProposalSubmitted, ReviewSubmitted)):
            on = reviewer.on_proposal if isinstance(msg, ProposalSubmitted) else reviewer.on_review
            route = (on, s.reviewer)
        elif isinstance(msg, BallotAccepted):
            route = (voter.on_ballot, s.voter)
        elif isinstance(msg, TallyComputed):
            route = (gate.on_tally, s.gate)
        elif isinstance(msg, RoundContinued):
            route = (broker.on_continued, s.broker)
        else:  # TeamSelected, results and timers: nobody in this test consumes them
            return None
        handler, deps = route
        payload = msgspec.json.encode(msg)
        first = list(await handler(msg, Delivery(subjects.subject_for(msg), 1, 1, payload), deps))
        writes = s.store.writes
        again = list(await handler(msg, Delivery(subjects.subject_for(msg), 1, 2, payload), deps))
        assert untimed(again) == untimed(first), f"redelivery of {type(msg).__name__} differs"
        assert s.store.writes == writes, f"redelivery of {type(msg).__name__} wrote the record"
        return first

    async def run(self, task: TaskSubmitted) -> DeliberationConcluded:
        self.publish(
            list(await broker.on_task(task, Delivery("nsed.tasks", 1, 1, b"{}"), self.stack.broker))
        )
        results: list[DeliberationConcluded] = []
        handled = 0
        while self.queue:
            msg = self.queue.popleft()
            if isinstance(msg, DeliberationConcluded):
                results.append(msg)
                continue
            out = await self.handle(msg)
            if out is not None:
                self.publish(out)
                handled += 1
            self.stack.clock.now += 0.5  # time passes, but no deadline comes near
            assert handled < 2000, "the deliberation never ended"
        [result] = results  # exactly one result per task
        return result


@pytest.mark.parametrize(
    ("task_id", "reference", "fmt"),
    [
        ("sim-1", "42", "integer"),
        ("sim-2", "C", "choice"),
        ("sim-3", None, "text"),
        ("sim-4", "1,234", "integer"),
    ],
)
async def test_a_simulated_deliberation_ends_with_one_bounded_result(
    stack: Stack, task_id: str, reference: str | None, fmt: str
) -> None:
    bus = Bus(stack)
    policy = Policy(team_size=3, max_rounds=4, state_token_budget=256, feedback_token_budget=64)
    task = TaskSubmitted(
        task_id=task_id,
        prompt="Compute it.",
        answer_format=fmt,
        reference_answer=reference,
        policy=policy,
    )
    result = await bus.run(task)
    assert result.status in ("completed", "degraded")
    assert result.simulated
    assert 1 <= result.rounds <= 4
    assert result.rounds == len(result.summaries)
    assert result.stop_reason in ("converged", "evidence", "fatigue", "max_rounds")
    assert all(s.state_tokens <= 256 for s in result.summaries)
    assert (result.correct is None) == (reference is None)
    team = next(m for m in bus.published.values() if isinstance(m, TeamSelected))
    assert len({s.agent_id for s in team.seats}) == 3
    for msg in bus.published.values():
        if isinstance(msg, ProposeRequested):
            assert msg.state is None or msg.state.tokens <= 256
            assert sum(len(f) for f in msg.feedback) <= 64 * 4
        if isinstance(msg, PhaseDue):
            assert msg.owner in ("reviewer", "gate")
    assert stack.store.records[task_id].done


async def test_the_same_task_deliberates_identically_twice(stack: Stack) -> None:
    task = TaskSubmitted(
        task_id="sim-same", prompt="p", answer_format="integer", reference_answer="17"
    )
    first = await Bus(stack).run(task)
    stack.store.records.clear()
    stack.clock.now = NOW
    second = await Bus(stack).run(task)
    # Everything but the solver's wall-clock time is the same.
    assert first.selection is not None
    assert second.selection is not None
    assert first.selection.seats == second.selection.seats
    untimed = {"selection": None}
    assert msgspec.structs.replace(first, **untimed) == msgspec.structs.replace(second, **untimed)


@pytest.mark.parametrize(
    ("protocol", "fmt", "reference", "rounds"),
    [
        ("vote", "integer", "42", {1}),
        ("vote", "text", None, {1}),
        ("debate", "integer", "42", {1, 2, 3}),
        ("debate", "choice", "C", {1, 2, 3}),
        ("moa", "integer", "42", {4}),  # three layers, then the aggregator
        ("moa", "text", None, {4}),
    ],
)
async def test_simulated_agents_run_every_protocol_to_one_result(
    stack: Stack, protocol: str, fmt: str, reference: str | None, rounds: set[int]
) -> None:
    bus = Bus(stack)
    task = TaskSubmitted(
        task_id=f"sim-{protocol}-{fmt}",
        prompt="Compute it.",
        answer_format=fmt,
        reference_answer=reference,
        policy=Policy(team_size=3, max_rounds=3, protocol=protocol),
    )
    result = await bus.run(task)
    assert result.status == "completed"
    assert result.rounds in rounds
    assert result.answer is not None
    assert not [m for m in bus.published.values() if isinstance(m, ReviewRequested)]
    requests = [m for m in bus.published.values() if isinstance(m, ProposeRequested)]
    assert {r.protocol for r in requests} == {protocol}
    # One call per seat and round (the aggregator's round has one seat): no reviews.
    seats = {r.round: 0 for r in requests}
    for r in requests:
        seats[r.round] += 1
    assert result.total.calls == sum(seats.values())
    if protocol == "moa":
        assert seats == {1: 3, 2: 3, 3: 3, 4: 1}
