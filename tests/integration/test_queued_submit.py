"""``nsed submit`` on a saturated pool: while its task waits on ``NSED_TASKS`` it says so
(how many tasks are ahead of it), and it waits as long as the queue moves, however long
that is, instead of giving up when no team has come within ``TEAM_WAIT_S``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.aio.client import Client

from services.cli import submit
from services.cli.progress import Progress
from services.cli.submit import build_task, follow
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.slowpool import AGENTS, slow_pool

BURST = 40  # one-round tasks, 2 calls on each agent: 8 s of work at 2 x 0.2 s slots
TEAM_WAIT_S = 4.0  # half what the burst takes to clear (and more than one 2 s poll)


async def test_a_task_behind_a_burst_shows_its_place_and_is_waited_for(
    inproc: InProcessServices,
    nc: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(submit, "TEAM_WAIT_S", TEAM_WAIT_S)
    inproc.pool = slow_pool(tmp_path / "slow.toml", slots=2)
    inproc.start_service("broker", concurrency=2)
    for name in ("reviewer", "voter", "gate"):
        inproc.start_service(name)
    for agent in AGENTS:
        inproc.start_agent(agent)
    await ready(nc, agents=AGENTS)
    policy = {"team": list(AGENTS), "max_rounds": 1, "phase_timeout_s": 4}
    burst = [nsed.new_task_id("ahead") for _ in range(BURST)]
    await asyncio.gather(*(nsed.publish_task(nc, nsed.task(t, **policy), msg_id=t) for t in burst))

    task = build_task("What is 6*7?", answer="42", domain="math", answer_format=None,
                      policy=policy)  # fmt: skip
    progress = Progress(str(task.task_id), enabled=True)
    result = await asyncio.wait_for(follow(nc, task, progress), timeout=90)
    progress.close()

    assert result is not None, "submit gave up on a task the busy pool was getting to"
    assert result.status in ("completed", "degraded")
    assert not any(s.degraded for s in result.summaries), result.detail
    queued = [line for line in capsys.readouterr().err.splitlines() if line.startswith("queued:")]
    assert queued, "it should have said the task was queued"
    assert "task(s) ahead of it" in queued[0]
