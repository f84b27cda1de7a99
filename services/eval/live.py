"""Tasks on the live pool: publish on ``nsed.tasks`` with a bounded number in flight, and
collect each result from a plain subscription on ``nsed.results.*``.

Before publishing a task, its result subject in ``NSED_RESULTS`` is read: a task that an
interrupted run published finished meanwhile, and its result is taken from there. A task
published again with the same id and the same content is not run twice: the stream's
duplicate window drops it, and past that window the broker answers from its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.task import TaskSubmitted
from schemas.team import TeamSelected
from services.cli import client
from services.cli.client import CliError
from services.cli.submit import publish
from services.eval.datasets import Item
from services.stack import health

RESULT_GRACE_S = 30.0
TEAM_WAIT_S = 120.0  # for the broker to seat a team (and say when the task must end)
POLL_S = 5.0
_team = msgspec.json.Decoder(TeamSelected)
SERVICES = ("broker", "reviewer", "voter", "gate")


@dataclass(frozen=True)
class Job:
    protocol: str
    item: Item
    task: TaskSubmitted

    @property
    def task_id(self) -> str:
        assert self.task.task_id is not None
        return self.task.task_id


async def check_pool(nc: Client, team: Sequence[str], url: str) -> set[str]:
    """The live agents; a usage error when the services or the agents (or one of ``team``)
    are not there, since no task could be answered."""
    found = await health.discover(nc)
    missing = [s for s in SERVICES if not found.get(s)]
    if missing:
        raise CliError(
            f"no {', '.join(missing)} answering on {url}; is the stack up? try `make up`"
        )
    live = await health.live_agent_ids(nc)
    if not live:
        raise CliError(f"no live agents on {url}; start a pool: make up POOL=path/to/pool.toml")
    absent = sorted(set(team) - live)
    if absent:
        raise CliError(f"--team names agents that are not live: {', '.join(absent)}")
    return live


async def run_jobs(
    nc: Client,
    jobs: Sequence[Job],
    *,
    in_flight: int,
    on_result: Callable[[Job, DeliberationConcluded], None],
    grace_s: float = RESULT_GRACE_S,
) -> list[Job]:
    """Every job to its result (``on_result`` as each arrives); returns the jobs with no
    result within their deadline plus ``grace_s`` from their publication."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[DeliberationConcluded]] = {
        job.task_id: loop.create_future() for job in jobs
    }

    async def on_message(msg: Any) -> None:
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            result = client.decode_result(msg.data)
            future = waiting.get(result.task_id)
            if future is not None and not future.done():
                future.set_result(result)

    gate = asyncio.Semaphore(in_flight)
    missing: list[Job] = []

    async def run(job: Job) -> None:
        future = waiting[job.task_id]
        async with gate:
            stored = await client.stored_result(nc, job.task_id)
            if stored is not None and not future.done():
                future.set_result(stored)
            if not future.done():
                await publish(nc, job.task)
            published = time.time()
            while not future.done():
                left = until(job, published) - time.time()
                if left <= 0:
                    missing.append(job)
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), timeout=min(left, POLL_S))
        on_result(job, future.result())

    def until(job: Job, published: float) -> float:
        """The policy's deadline, else the one the broker derived (``TeamSelected``), plus
        ``grace_s``; until the team is known, ``TEAM_WAIT_S`` from publication."""
        if job.task.policy.deadline_s is not None:
            return published + job.task.policy.deadline_s + grace_s
        if job.task_id in deadlines:
            return deadlines[job.task_id] + grace_s
        return published + TEAM_WAIT_S

    deadlines: dict[str, float] = {}

    async def on_team(msg: Any) -> None:
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            team = _team.decode(msg.data)
            if team.deadline_at is not None:
                deadlines.setdefault(team.task_id, team.deadline_at)

    teams = await nc.subscribe(subjects.EVENT_TEAM.format(task_id="*"), cb=on_team)
    sub = await nc.subscribe(subjects.results("*"), cb=on_message)
    try:
        await nc.flush(timeout=int(client.CONNECT_TIMEOUT_S))
        tasks = [asyncio.create_task(run(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # One failure (the stream gone, an interrupt) ends the run: stop the others.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
            await teams.unsubscribe()
    return missing
