"""The simulation's oracle apart from the records: the broker keeps an accepted task's
reference answer in ``nsed_references`` before round 1 goes out (again, the same, on a
redelivery), and the agent runner reads only that, and the results stream, never a record."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import nats.js.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import subjects
from schemas.propose import ProposeRequested
from services._runtime.references import InMemoryReferenceStore
from services.agent_runner import lookups
from services.inmemory import InMemoryServices

from ..conftest import new_inmem
from ..opened_task import task

RUNNER = Path(lookups.__file__).resolve().parent


def with_reference(answer: str | None, task_id: str = "h-1") -> object:
    return msgspec.structs.replace(task(task_id), reference_answer=answer)


async def test_an_accepted_task_keeps_its_reference_before_round_1_is_dispatched(
    inmem: InMemoryServices,
) -> None:
    out = await inmem.handle(with_reference("42"))
    assert any(isinstance(m, ProposeRequested) for m in out)
    assert inmem.references.answers == {"h-1": "42"}
    # Redelivered (the broker may have died before publishing round 1): written again.
    await inmem.handle(with_reference("42"))
    assert inmem.references.answers == {"h-1": "42"}
    assert inmem.references.writes == 2


async def test_no_reference_is_kept_for_a_task_without_one_or_one_not_accepted(
    inmem: InMemoryServices,
) -> None:
    await inmem.handle(with_reference(None))
    assert inmem.references.answers == {}
    # Another task under the same id is refused: the id's reference is left alone.
    await inmem.handle(with_reference("7"), seq=2)
    assert inmem.references.answers == {}
    inmem.registry.clear()  # no team: a failed result, no round 1
    await inmem.handle(with_reference("9", "h-2"), seq=3)
    assert "h-2" not in inmem.references.answers


@settings(max_examples=30, deadline=None)
@given(answer=st.text(min_size=1, max_size=40), deliveries=st.integers(1, 4))
async def test_whenever_round_1_goes_out_the_reference_is_the_tasks_own(
    answer: str, deliveries: int
) -> None:
    inmem = new_inmem()
    for seq in range(deliveries):
        out = await inmem.handle(with_reference(answer), seq=1)
        dispatched = any(isinstance(m, ProposeRequested) for m in out)
        assert dispatched
        assert inmem.references.answers == {"h-1": answer}
        assert inmem.references.writes == seq + 1


async def test_the_runners_oracle_reads_the_references_once_per_task() -> None:
    store = InMemoryReferenceStore()
    store.answers["t1"] = "391"
    read = lookups.reference_reader(store, capacity=1)
    assert await read("t1") == "391"
    store.answers["t1"] = "changed"
    assert await read("t1") == "391"  # cached
    assert await read("t2") is None
    assert await read("t1") == "changed"  # evicted by t2 (capacity 1), read again


class Results:
    """The results stream, as ``ended_reader`` asks it: the last message on a subject."""

    def __init__(self, concluded: set[str]) -> None:
        self.concluded = concluded
        self.asked: list[tuple[str, str]] = []

    async def get_last_msg(self, stream: str, subject: str) -> object:
        self.asked.append((stream, subject))
        if subject not in self.concluded:
            raise nats.js.errors.NotFoundError
        return object()


async def test_a_task_has_ended_when_the_results_stream_holds_its_result() -> None:
    results = Results({subjects.concluded("over")})
    ended = lookups.ended_reader(results)  # type: ignore[arg-type]
    assert await ended("over")
    assert not await ended("live")
    assert results.asked == [
        (subjects.NSED_RESULTS, "nsed.concluded.over"),
        (subjects.NSED_RESULTS, "nsed.concluded.live"),
    ]


@pytest.mark.parametrize("path", sorted(RUNNER.rglob("*.py")), ids=lambda p: p.name)
def test_no_runner_module_names_the_record_bucket(path: Path) -> None:
    """An agent's principal may not read the records: no code of the runner names their
    bucket (``subjects.DELIBERATIONS_BUCKET``, or its name spelt out)."""
    tree = ast.parse(path.read_text())
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert "DELIBERATIONS_BUCKET" not in names
    assert not any(isinstance(s, str) and subjects.DELIBERATIONS_BUCKET in s for s in strings)
