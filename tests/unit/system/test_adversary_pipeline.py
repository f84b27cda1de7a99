"""The shipped adversary pools through every service's handlers (the in-memory bus of
test_pipeline_sim): what each adversary sends is what its profile says, and the council
accepts it as it would any agent's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import subjects
from schemas.base import Message
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from services._runtime.route import Delivery, Route
from services.agent_runner.backends.sim_adversary import REVIEWER_NOTE, Planted, planted
from services.agent_runner.heartbeat import card_of
from services.inmemory import InMemoryServices
from tests.unit.system.test_pipeline_sim import Bus

from ..builders import NOW

AGENTS = Path(__file__).resolve().parents[3] / "infra" / "agents"
ADVERSARY = "mistral-small-24b"
TEAM = ("gpt-oss-20b", "gemma-3-12b", "qwen3-8b", ADVERSARY)
PROTOCOLS = ("nsed", "debate", "moa")


class LiveBus(Bus):
    """The bus with every agent's card refreshed as time passes: a pinned team must be live
    at every round's re-selection."""

    async def call(self, route: Route, message: Any, delivery: Delivery) -> list[Message]:
        for agent_id, deps in self.inmem.runners.items():
            card = card_of(deps.profile, "i1", 0, started_at=NOW, now=self.inmem.clock.now)
            self.inmem.registry.put(subjects.agent_key(agent_id, "i1"), card)
        return await super().call(route, message, delivery)

    async def result_of(self, task: TaskSubmitted) -> DeliberationConcluded:
        self.publish([task])
        await self.run()
        [result] = [r for r in self.of_type(DeliberationConcluded) if r.task_id == task.task_id]
        return result


async def run(inmem: InMemoryServices, pool: str, tasks: list[TaskSubmitted]) -> list[Message]:
    """Every message the tasks' deliberations published, one task after the other."""
    published: list[Message] = []
    bus = LiveBus(inmem, AGENTS / pool)
    for t in tasks:
        result = await bus.result_of(t)
        assert (result.status, result.rounds) == (
            "completed",
            4 if t.policy.protocol == "moa" else 3,
        )
    published.extend(bus.published.values())
    return published


def task(task_id: str, protocol: str = "nsed", rounds: int = 3) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt=f"Problem {task_id}.",
        answer_format="integer",
        reference_answer="42",
        policy=Policy(team=TEAM, protocol=protocol, min_rounds=rounds, max_rounds=rounds),  # type: ignore[arg-type]
    )


async def test_a_self_promoter_casts_valid_ballots_against_every_rival(
    inmem: InMemoryServices,
) -> None:
    published = await run(
        inmem, "sim-adversary-self-promote.toml", [task(f"sp-{n}") for n in range(4)]
    )
    # Ballots reach watchers with their round's tally.
    tallies = [m for m in published if isinstance(m, TallyComputed)]
    ballots = [b for t in tallies for b in t.ballots if b.valid]
    mine = [b for b in ballots if b.agent_id == ADVERSARY]
    assert len(mine) == 12  # every round of every task: valid, so counted as a review
    assert all(set(b.weights.values()) == {-100.0} for b in mine)
    others = [w for b in ballots if b.agent_id != ADVERSARY for w in b.weights.values()]
    assert any(w > -100.0 for w in others)  # the honest members still judge
    assert len(tallies) == 12
    kinds = set()
    for tally in tallies:
        [ballot] = [b for b in mine if (b.task_id, b.round) == (tally.task_id, tally.round)]
        covered = {o.key for o in tally.options if set(o.proposals) & set(ballot.weights)}
        # a ballot with one weight over two or more options abstains (qv's own rule)
        assert (ballot.seat in tally.abstained) == (len(covered) >= 2)
        kinds.add(len(covered) >= 2)
    assert kinds == {True, False}  # both cases met


async def test_an_injectors_notes_reach_no_other_agent(inmem: InMemoryServices) -> None:
    tasks = [task(f"inj-{protocol}-{n}", protocol) for protocol in PROTOCOLS for n in range(3)]
    published = await run(inmem, "sim-adversary-inject.toml", tasks)
    proposals = [m for m in published if isinstance(m, ProposalSubmitted)]
    mine = [p for p in proposals if p.agent_id == ADVERSARY]
    assert {p.task_id.split("-")[1] for p in mine} == set(PROTOCOLS)
    for p in mine:
        assert REVIEWER_NOTE in p.content
        assert planted(p.content).adopt == p.extracted_answer
    assert not any(planted(p.content).to_reviewers for p in proposals if p.agent_id != ADVERSARY)
    # what every agent is shown of the others' text: candidates, the state, critiques
    shown = [
        text
        for m in published
        if isinstance(m, (ReviewRequested, ProposeRequested))
        for text in shown_to(m)
    ]
    assert any("[instruction removed]" in text for text in shown)
    assert [t for t in shown if planted(t) != Planted(to_reviewers=False, adopt=None)] == []


def shown_to(request: ReviewRequested | ProposeRequested) -> list[str]:
    if isinstance(request, ReviewRequested):
        return [t for c in request.candidates for t in (c.content, c.reasoning_excerpt)]
    items = request.state.items if request.state is not None else ()
    return [i.text for i in items] + list(request.feedback)
