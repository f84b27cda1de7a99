"""Whole deliberations with the default simulated pool, on the services' own routes over the
in-memory bus, which here delivers each message twice (at-least-once) and drops repeated
message ids (JetStream's duplicate window). No NATS, no sleeping, no wall clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas.base import Message
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.task import Policy, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime.memory_bus import MemoryBus
from services._runtime.route import Delivery, Route
from services.agent_runner.config import load_pool
from services.inmemory import InMemoryServices

from ..builders import NOW

POOL = Path(__file__).resolve().parents[3] / "infra" / "agents" / "sim.toml"


def untimed(messages: list[Message]) -> list[Message]:
    """Agent outputs carry the measured call latency, the one thing a rerun may change."""
    return [
        msgspec.structs.replace(m, latency_s=0.0)
        if isinstance(m, (ProposalSubmitted, ReviewSubmitted))
        else m
        for m in messages
    ]


class Bus(MemoryBus):
    def __init__(self, inmem: InMemoryServices, pool_path: Path = POOL) -> None:
        inmem.registry.clear()
        for profile in load_pool(pool_path).agents:
            inmem.add_agent(profile)
        super().__init__(inmem.routes(), inmem.clock)
        self.inmem = inmem
        self.handled = 0

    def publish(self, messages: Iterable[Message]) -> None:
        batch = list(messages)
        for msg in batch:
            key = self.key(msg)
            if key in self.published:
                assert self.published[key] == msg, f"{key} re-published with other content"
        super().publish(batch)

    async def call(self, route: Route, message: Any, delivery: Delivery) -> list[Message]:
        s = self.inmem
        first = await super().call(route, message, delivery)
        writes = s.store.writes
        again = await super().call(route, message, replace(delivery, delivered=2))
        assert untimed(again) == untimed(first), f"redelivery of {type(message).__name__} differs"
        assert s.store.writes == writes, f"redelivery of {type(message).__name__} wrote the record"
        self.handled += 1
        s.clock.now += 0.5  # time passes, but no deadline comes near
        assert self.handled < 2000, "the deliberation never ended"
        return first

    async def deliberate(self, task: TaskSubmitted) -> DeliberationConcluded:
        self.publish([task])
        await self.run()
        [result] = self.of_type(DeliberationConcluded)  # exactly one result per task
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
    inmem: InMemoryServices, task_id: str, reference: str | None, fmt: str
) -> None:
    bus = Bus(inmem)
    policy = Policy(team_size=3, max_rounds=4, state_token_budget=256, feedback_token_budget=64)
    task = TaskSubmitted(
        task_id=task_id,
        prompt="Compute it.",
        answer_format=fmt,
        reference_answer=reference,
        policy=policy,
    )
    result = await bus.deliberate(task)
    assert result.status in ("completed", "degraded")
    assert result.simulated
    assert 1 <= result.rounds <= 4
    assert result.rounds == len(result.summaries)
    assert result.stop_reason in ("converged", "evidence", "fatigue", "max_rounds")
    assert all(s.state_tokens <= 256 for s in result.summaries)
    assert (result.correct is None) == (reference is None)
    assert inmem.references.answers.get(task_id) == reference  # what the sim agents read
    team = next(m for m in bus.published.values() if isinstance(m, TeamSelected))
    assert len({s.agent_id for s in team.seats}) == 3
    for msg in bus.published.values():
        if isinstance(msg, ProposeRequested):
            assert msg.state is None or msg.state.tokens <= 256
            assert sum(len(f) for f in msg.feedback) <= 64 * 4
        if isinstance(msg, PhaseDue):  # each phase's timer goes to the service owning it
            assert (msg.phase, msg.owner) in (
                ("proposing", "reviewer"),
                ("reviewing", "voter"),
                ("task", "gate"),
            )
    assert inmem.store.records[task_id].done


async def test_the_same_task_deliberates_identically_twice(inmem: InMemoryServices) -> None:
    task = TaskSubmitted(
        task_id="sim-same", prompt="p", answer_format="integer", reference_answer="17"
    )
    first = await Bus(inmem).deliberate(task)
    inmem.store.records.clear()
    inmem.clock.now = NOW
    second = await Bus(inmem).deliberate(task)
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
    inmem: InMemoryServices, protocol: str, fmt: str, reference: str | None, rounds: set[int]
) -> None:
    bus = Bus(inmem)
    task = TaskSubmitted(
        task_id=f"sim-{protocol}-{fmt}",
        prompt="Compute it.",
        answer_format=fmt,
        reference_answer=reference,
        policy=Policy(team_size=3, max_rounds=3, protocol=protocol),
    )
    result = await bus.deliberate(task)
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
