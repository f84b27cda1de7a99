"""A server's slots (``backends/slots.py``): every agent that calls one server shares them,
so the server never has more of their calls at once than its slots, and has that many
whenever that many are waiting."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.agent_runner.backends.base import BackendError
from services.agent_runner.backends.slots import ServerSlots, server_key
from services.agent_runner.config import AgentProfile, OpenAIConfig, PoolConfig

URL = "http://127.0.0.1:8081/v1"


def test_one_server_has_one_name_whatever_the_spelling_of_its_url() -> None:
    assert server_key(URL) == server_key("HTTP://127.0.0.1:8081/v1/") == server_key(f" {URL}")
    assert server_key(URL) != server_key("http://127.0.0.1:8082/v1")
    assert server_key(URL) != server_key("http://127.0.0.1:8081/V1")  # paths keep their case


async def _burst(folder: Path, slots: int, agents: int, calls_each: int) -> tuple[int, int]:
    """Every agent's calls at once, each agent with its own ``ServerSlots`` (as runners in
    separate processes have): the most calls inside at once, and how many calls ran."""
    limiters = [ServerSlots(folder, URL, slots, wait_s=10.0, poll_s=0.001) for _ in range(agents)]
    total = agents * calls_each
    full = asyncio.Event()  # as many calls inside as could be: slots, or every call
    inside = most = ran = 0

    async def call(limiter: ServerSlots) -> None:
        nonlocal inside, most, ran
        async with limiter.hold():
            inside += 1
            most = max(most, inside)
            if inside >= min(slots, total):
                full.set()
            # Stay until the server is as busy as it may be: fewer calls let in than slots
            # (with more waiting) would never set it, and the test times out.
            await asyncio.wait_for(full.wait(), timeout=5.0)
            ran += 1
            inside -= 1

    await asyncio.gather(*(call(lim) for lim in limiters for _ in range(calls_each)))
    return most, ran


@settings(max_examples=25, deadline=None)
@given(
    slots=st.integers(min_value=1, max_value=4),
    agents=st.integers(min_value=1, max_value=4),
    calls_each=st.integers(min_value=1, max_value=4),
)
def test_a_server_never_has_more_calls_than_its_slots_and_has_them_all_when_busy(
    slots: int, agents: int, calls_each: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        most, ran = asyncio.run(_burst(Path(tmp), slots, agents, calls_each))
    assert ran == agents * calls_each
    assert most == min(slots, agents * calls_each)


async def test_a_call_that_finds_every_slot_taken_for_too_long_fails_with_the_reason(
    tmp_path: Path,
) -> None:
    holder = ServerSlots(tmp_path, URL, 1, wait_s=10.0)
    waiter = ServerSlots(tmp_path, URL, 1, wait_s=0.05, poll_s=0.001)
    async with holder.hold():
        with pytest.raises(BackendError, match=r"busy for 0.05s: its 1 slot\(s\) stayed taken"):
            async with waiter.hold():
                pass
    async with waiter.hold():  # free again once the holder is done
        pass


async def test_other_servers_slots_are_not_shared(tmp_path: Path) -> None:
    one = ServerSlots(tmp_path, URL, 1, wait_s=0.05, poll_s=0.001)
    other = ServerSlots(tmp_path, "http://127.0.0.1:9999/v1", 1, wait_s=0.05, poll_s=0.001)
    async with one.hold(), other.hold():
        pass


def _agent(agent_id: str, slots: int | None, url: str = URL) -> AgentProfile:
    config = OpenAIConfig(base_url=url, model="m", server_slots=slots)
    return AgentProfile(id=agent_id, model="m", family=agent_id, backend="openai", openai=config)


def test_agents_of_one_pool_that_call_one_server_must_agree_on_its_slots() -> None:
    PoolConfig(agents=(_agent("a", 2), _agent("b", 2), _agent("c", None, url=f"{URL}x")))
    with pytest.raises(ValueError, match=r"agents a and b call one server .* server_slots 1 and 2"):
        PoolConfig(agents=(_agent("a", 1), _agent("b", 2)))


def test_an_agent_on_a_local_model_gets_its_servers_slots() -> None:
    from services.agent_runner.config import load_pool
    from tests.support.processes import ROOT

    pool = load_pool(ROOT / "infra" / "agents" / "local.toml")
    served = [a.served_at("http://127.0.0.1:5000/v1") for a in pool.agents]
    assert {a.openai.server_slots for a in served if a.openai is not None} == {1}
