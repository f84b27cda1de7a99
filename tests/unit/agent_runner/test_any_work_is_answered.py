"""Every work item a runner can decode, it can answer: its prompts can be written (every text
in them fenced), whatever the values of a request that passed its bounds. A request its
prompts cannot be written for is refused at decoding, not failed (and retried) by the
handler."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from services.agent_runner import handlers
from services.agent_runner.backends.sim import SimBackend
from services.agent_runner.config import load_pool
from tests.support.schema_data import documents, load

from ..builders import NOW

POOL = load_pool(Path(__file__).resolve().parents[2] / "data" / "pool.toml")
PROFILE = POOL.agents[0]
WORK = ProposeRequested | ReviewRequested


async def no_truth(task_id: str) -> str | None:
    return None


async def no_sleep(seconds: float) -> None:
    return None


DEPS = handlers.RunnerDeps(
    profile=PROFILE,
    instance_id="i1",
    backend=SimBackend(PROFILE, no_truth, sleep=no_sleep),
    clock=lambda: NOW,
)


def aimed(document: Any) -> Any:
    """A work item for this runner's agent, not yet stale."""
    if isinstance(document, dict):
        return {**document, "agent_id": PROFILE.id, "deadline": NOW + 60}
    return document


@pytest.mark.parametrize("kind", [ProposeRequested, ReviewRequested], ids=lambda t: t.__name__)
def test_every_work_item_that_decodes_is_answered(kind: type) -> None:
    answered: list[Any] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(document=documents(load(kind.__name__)).map(aimed))
    def check(document: Any) -> None:
        try:
            request = msgspec.json.decode(json.dumps(document).encode(), type=WORK)
        except msgspec.ValidationError:
            return  # refused at the edge: dead-lettered
        out = asyncio.run(handlers.on_work(request, DEPS))
        assert isinstance(out, (ProposalSubmitted, ReviewSubmitted))
        answered.append(out)

    check()
    assert answered, f"no {kind.__name__} decoded"
