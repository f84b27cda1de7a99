"""The shipped adversary pools through every service's handlers (the in-memory bus of
test_pipeline_sim): what each adversary sends is what its profile says, and the council
accepts it as it would any agent's."""

from __future__ import annotations

from pathlib import Path

from schemas.ballot import BallotAccepted
from schemas.base import Message
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from services.agent_runner.backends.sim_adversary import REVIEWER_NOTE, planted

from .builders import NOW
from .conftest import Stack
from .test_pipeline_sim import Bus

AGENTS = Path(__file__).resolve().parents[2] / "infra" / "agents"
ADVERSARY = "mistral-small-24b"
TEAM = ("gpt-oss-20b", "gemma-3-12b", "qwen3-8b", ADVERSARY)


async def run(stack: Stack, pool: str, tasks: list[TaskSubmitted]) -> list[Message]:
    """Every message the tasks' deliberations published, one task after the other."""
    published: list[Message] = []
    for t in tasks:
        stack.clock.now = NOW  # the cards the bus writes stay live
        bus = Bus(stack, AGENTS / pool)
        await bus.run(t)
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


async def test_a_self_promoter_casts_valid_ballots_against_every_rival(stack: Stack) -> None:
    published = await run(
        stack, "sim-adversary-self-promote.toml", [task(f"sp-{n}") for n in range(4)]
    )
    ballots = [m for m in published if isinstance(m, BallotAccepted) and m.valid]
    mine = [b for b in ballots if b.agent_id == ADVERSARY]
    assert len(mine) == 12  # every round of every task: valid, so counted as a review
    assert all(set(b.weights.values()) == {-100.0} for b in mine)
    others = [w for b in ballots if b.agent_id != ADVERSARY for w in b.weights.values()]
    assert any(w > -100.0 for w in others)  # the honest members still judge
    tallies = [m for m in published if isinstance(m, TallyComputed)]
    assert len(tallies) == 12
    kinds = set()
    for tally in tallies:
        [ballot] = [b for b in mine if (b.task_id, b.round) == (tally.task_id, tally.round)]
        covered = {o.key for o in tally.options if set(o.proposals) & set(ballot.weights)}
        # a ballot with one weight over two or more options abstains (qv's own rule)
        assert (ballot.seat in tally.abstained) == (len(covered) >= 2)
        kinds.add(len(covered) >= 2)
    assert kinds == {True, False}  # both cases met


async def test_an_injector_plants_its_notes_and_honest_agents_read_them(stack: Stack) -> None:
    tasks = [task(f"inj-{n}", protocol="debate") for n in range(4)]
    published = await run(stack, "sim-adversary-inject.toml", tasks)
    proposals = [m for m in published if isinstance(m, ProposalSubmitted)]
    mine = [p for p in proposals if p.agent_id == ADVERSARY]
    assert mine
    for p in mine:
        assert REVIEWER_NOTE in p.content
        assert planted(p.content).adopt == p.extracted_answer
    assert not any(planted(p.content).to_reviewers for p in proposals if p.agent_id != ADVERSARY)
    # debate shows each member its peers in full: the notes reach the honest members
    requests = [m for m in published if isinstance(m, ProposeRequested)]
    reached = [
        r
        for r in requests
        if r.agent_id != ADVERSARY
        and r.state is not None
        and any(planted(i.text).adopt for i in r.state.items)
    ]
    assert reached
