"""A well-formed message about a task nobody knows is never acknowledged as if handled: every
service that consumes one either acts on it or rejects it, and a rejection is dead-lettered
with its reason. Timers, reviews and ``VotingOpened`` included, timers due or not."""

from __future__ import annotations

import msgspec
import pytest

from schemas.ballot import VotingOpened
from schemas.review import ReviewSubmitted
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, Rejected
from services.gate import handlers as gate
from services.inmemory import InMemoryServices
from services.reviewer import handlers as reviewer
from services.voter import handlers as voter

from ..builders import NOW, arrived
from ..opened_task import opened, timer

GHOST = "ghost-task"


def ghost_timer(phase: str, owner: str, due_at: float) -> PhaseDue:
    return msgspec.structs.replace(timer(GHOST, 1, phase, owner=owner), due_at=due_at)


@pytest.mark.parametrize("phase", ["proposing", "reviewing", "task"])
@pytest.mark.parametrize("due_in", [-1e6, 0.0, 30.0, 1e11 - NOW])
@pytest.mark.parametrize("owner", ["reviewer", "voter", "gate"])
async def test_a_timer_of_an_unknown_task_is_rejected_due_or_not(
    inmem: InMemoryServices, phase: str, due_in: float, owner: str
) -> None:
    await opened(inmem)  # another task is known: its record says nothing of this one
    due = ghost_timer(phase, owner, max(NOW + due_in, 0.0))
    handlers = {
        "reviewer": lambda: reviewer.on_timer(due, inmem.reviewer),
        "voter": lambda: voter.on_timer(due, inmem.voter),
        "gate": lambda: gate.on_timer(due, inmem.gate),
    }
    with pytest.raises(Rejected, match=f"no deliberation record for task '{GHOST}'"):
        await handlers[owner]()


async def test_a_review_or_voting_opened_of_an_unknown_task_is_rejected(
    inmem: InMemoryServices,
) -> None:
    ghost = ReviewSubmitted(task_id=GHOST, round=1, message_id="r", seat=0, agent_id="a")
    with pytest.raises(Rejected, match=f"no deliberation record for task '{GHOST}'"):
        await voter.on_review(ghost, arrived(ghost), inmem.voter)
    opening = VotingOpened(task_id=GHOST, round=1, message_id="v")
    with pytest.raises(Rejected, match=f"no deliberation record for task '{GHOST}'"):
        await voter.on_voting_opened(opening, inmem.voter)


async def test_a_timer_not_yet_due_of_a_known_task_still_waits(inmem: InMemoryServices) -> None:
    await opened(inmem, deadline_s=60.0)
    due = msgspec.structs.replace(timer("h-1", 0, "task", owner="gate"), due_at=NOW + 30)
    with pytest.raises(NotYetDue):
        await gate.on_timer(due, inmem.gate)
