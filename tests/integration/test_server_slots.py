"""Agents that share one model server, over real loopback HTTP: their calls reach it
concurrently up to its slots (``server_slots``) and never beyond, whichever agent makes
them; without slots, each agent's ``max_concurrency`` is the only limit. A runner process
holds a slot against the others until it ends, even by ``kill -9``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from schemas.propose import ProposeRequested
from schemas.task import TaskView
from services.agent_runner.backends.base import BackendError
from services.agent_runner.backends.openai import OpenAIBackend
from services.agent_runner.backends.slots import ServerSlots
from services.agent_runner.config import AgentProfile, OpenAIConfig
from tests.support.fakeopenai import FakeOpenAI
from tests.support.processes import ROOT

AGENTS = ("seat-a", "seat-b", "seat-c")
CALLS_EACH = 2
TASK = TaskView(task_id="t", prompt="What is 6*7?", answer_format="integer")


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    # Each call keeps the server busy for a while, as a model's would: calls let in
    # together overlap there.
    fake = await FakeOpenAI(slow_s=0.3).start()
    try:
        yield fake
    finally:
        await fake.stop()


def _backend(session: aiohttp.ClientSession, server: FakeOpenAI, agent: str,
             slots: int | None, folder: Path) -> OpenAIBackend:  # fmt: skip
    server.scripts[agent] = ["slow"] * CALLS_EACH
    config = OpenAIConfig(base_url=server.base_url, model=agent, timeout_s=10.0,
                          server_slots=slots)  # fmt: skip
    profile = AgentProfile(id=agent, model=agent, family=agent, backend="openai",
                           max_concurrency=CALLS_EACH, openai=config)  # fmt: skip
    return OpenAIBackend(profile, session, slots_folder=folder)


async def _burst(server: FakeOpenAI, slots: int | None, folder: Path) -> None:
    """Every agent's calls at once, each agent with a backend of its own (as runners in
    separate processes have)."""
    async with aiohttp.ClientSession() as session:
        backends = [_backend(session, server, agent, slots, folder) for agent in AGENTS]
        calls = [
            b.propose(ProposeRequested(task_id="t", round=1, message_id=f"m{n}", seat=seat,
                                       agent_id=b.profile.id, task=TASK, deadline=0.0))
            for seat, b in enumerate(backends)
            for n in range(CALLS_EACH)
        ]  # fmt: skip
        drafts = await asyncio.gather(*calls)
    assert len(drafts) == len(AGENTS) * CALLS_EACH


@pytest.mark.parametrize("slots", [1, 2])
async def test_agents_sharing_a_server_send_it_exactly_as_many_calls_at_once_as_its_slots(
    server: FakeOpenAI, tmp_path: Path, slots: int
) -> None:
    await _burst(server, slots, tmp_path)
    assert server.most_in_flight == slots


async def test_without_server_slots_each_agent_calls_up_to_its_own_concurrency(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    await _burst(server, None, tmp_path)
    assert server.most_in_flight == len(AGENTS) * CALLS_EACH


HOLDER = """
import asyncio, sys
from pathlib import Path
from services.agent_runner.backends.slots import ServerSlots

async def main():
    async with ServerSlots(Path(sys.argv[1]), sys.argv[2], 1, wait_s=5.0).hold():
        print("held", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""


async def test_a_runner_process_holds_a_slot_against_others_until_it_is_killed(
    tmp_path: Path,
) -> None:
    url = "http://127.0.0.1:1/v1"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, str(tmp_path), url, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), timeout=30) == b"held\n"
        waiter = ServerSlots(tmp_path, url, 1, wait_s=0.2, poll_s=0.001)
        with pytest.raises(BackendError, match="busy"):
            async with waiter.hold():
                pass
        holder.kill()  # no release of its own: the kernel drops a dead process's locks
        await asyncio.wait_for(holder.wait(), timeout=10)
        async with ServerSlots(tmp_path, url, 1, wait_s=5.0, poll_s=0.001).hold():
            pass
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
