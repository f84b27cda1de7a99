"""A runner does not pay for work of a task that has ended (cancelled, say), nor for work
whose deadline has passed."""

from __future__ import annotations

from pathlib import Path

from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.task import TaskView
from services.agent_runner.backends.base import ProposalDraft, ReviewDraft
from services.agent_runner.config import load_pool
from services.agent_runner.handlers import RunnerDeps, on_work

from ..builders import NOW, Clock

POOL = Path(__file__).resolve().parents[2] / "data" / "pool.toml"


class Counting:
    simulated = False

    def __init__(self) -> None:
        self.calls = 0

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        self.calls += 1
        return ProposalDraft("Final answer: \\boxed{42}", None, 10, 5, 0.1)

    async def review(self, request: object) -> ReviewDraft:  # pragma: no cover - unused
        raise AssertionError

    async def aclose(self) -> None:
        return None


def request(task_id: str) -> ProposeRequested:
    return ProposeRequested(
        task_id=task_id, round=1, message_id="m", seat=0, agent_id="alpha",
        task=TaskView(task_id=task_id, prompt="p", answer_format="integer"), deadline=NOW + 60,
    )  # fmt: skip


async def test_work_for_an_ended_task_is_skipped_and_costs_nothing() -> None:
    backend = Counting()

    async def ended(task_id: str) -> bool:
        return task_id == "over"

    deps = RunnerDeps(profile=load_pool(POOL).agent("alpha"), instance_id="i", backend=backend,
                      clock=Clock(NOW), ended=ended)  # fmt: skip
    assert await on_work(request("over"), deps) is None
    assert backend.calls == 0
    proposal = await on_work(request("live"), deps)
    assert isinstance(proposal, ProposalSubmitted)
    assert proposal.extracted_answer == "42"
    assert backend.calls == 1
