"""The gate at its edges: the task deadline ends a deliberation that has not ended, once,
and never one that concluded on its own; a tally for another round leaves the record alone."""

from __future__ import annotations

import msgspec
import pytest

from schemas.gate import DeliberationConcluded
from services._runtime.errors import NotYetDue
from services.core import ids
from services.inmemory import InMemoryServices

from ..builders import NOW, tally
from ..opened_task import opened, timer


async def test_the_task_deadline_ends_a_deliberation_that_has_not_ended(
    inmem: InMemoryServices,
) -> None:
    await opened(inmem, deadline_s=60.0)
    due = timer("h-1", 0, "task", owner="gate")
    inmem.clock.now = NOW + 59
    with pytest.raises(NotYetDue):
        await inmem.handle(due)
    inmem.clock.now = NOW + 60
    [result] = await inmem.handle(due)
    assert (result.status, result.stop_reason) == ("failed", "deadline")
    assert "round 1 (proposing)" in result.detail
    writes = inmem.store.writes
    # redelivered (the result lost in a crash): the same result again, nothing rewritten
    assert await inmem.handle(due) == [result]
    assert inmem.store.writes == writes


async def test_a_deadline_timer_after_a_normal_conclusion_emits_nothing(
    inmem: InMemoryServices,
) -> None:
    # A deliberation that stopped on its own (here: the halting rule's "no time for another
    # round") has emitted its result; the task timer falling due later must not emit it
    # again, or a long deadline would put a second result past the duplicate window.
    await opened(inmem, deadline_s=60.0)
    halted = msgspec.structs.replace(
        inmem.store.records["h-1"],
        result=DeliberationConcluded(
            task_id="h-1", round=1, message_id=ids.result("h-1"), status="completed",
            stop_reason="deadline",
        ),
    )  # fmt: skip
    inmem.store.records["h-1"] = halted
    inmem.clock.now = NOW + 61
    assert await inmem.handle(timer("h-1", 0, "task", owner="gate")) == []


async def test_a_tally_for_another_round_leaves_the_record_alone(inmem: InMemoryServices) -> None:
    await opened(inmem)
    writes = inmem.store.writes
    assert await inmem.handle(tally(task_id="h-1", round=5)) == []
    assert inmem.store.writes == writes
