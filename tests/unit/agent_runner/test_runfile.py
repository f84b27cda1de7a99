"""A runner's entry under ``$NSED_HOME/runners``: there while it runs, gone when it stops,
and believed only while its pid still runs an agent runner (``nsed stack down`` signals
these pids, so a reused pid must never pass)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.team import AgentCard
from services.agent_runner.runfile import RunnerEntry, alive, entries, registered
from services.stack import runners

URL = "nats://127.0.0.1:4999"


def entry(pid: int, agent: str = "stray", **fields: object) -> RunnerEntry:
    values: dict[str, object] = {"nats_url": URL, "instance_id": f"i-{agent}", **fields}
    return RunnerEntry(pid=pid, agent_id=agent, **values)  # type: ignore[arg-type]


@pytest.fixture
def fake_runner() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line is an agent runner's (it only sleeps)."""
    code = "import time\nwhile True: time.sleep(1)"
    proc = subprocess.Popen([sys.executable, "-c", code, "services.agent_runner"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_an_entry_lives_as_long_as_its_runner_says(tmp_path: Path) -> None:
    with registered(tmp_path, entry(os.getpid())) as path:
        assert path.exists()
        assert [e for _, e in entries(tmp_path)] == [entry(os.getpid())]
    assert entries(tmp_path) == []


def test_a_pid_that_runs_something_else_or_nothing_is_not_a_runner(
    fake_runner: subprocess.Popen[bytes],
) -> None:
    assert alive(entry(fake_runner.pid))
    assert not alive(entry(os.getpid()))  # pytest: a reused pid, say
    fake_runner.kill()
    fake_runner.wait(timeout=10)
    assert not alive(entry(fake_runner.pid))


def test_the_stack_finds_its_own_runners_started_by_hand_and_forgets_dead_ones(
    tmp_path: Path, fake_runner: subprocess.Popen[bytes]
) -> None:
    with (
        registered(tmp_path, entry(fake_runner.pid, "stray")),
        registered(tmp_path, entry(fake_runner.pid, "kept", supervised=True)),
        registered(tmp_path, entry(fake_runner.pid, "other", nats_url="nats://127.0.0.1:4")),
        registered(tmp_path, entry(os.getpid(), "dead")),  # not a runner: forgotten
    ):
        found = runners.by_hand(tmp_path, "nats://localhost:4999")
        assert [e.agent_id for e in found] == ["stray"]
        assert {e.agent_id for _, e in entries(tmp_path)} == {"stray", "kept", "other"}
        assert {e.agent_id for e in runners.by_hand(tmp_path, None)} == {"stray", "other"}
        cards = [
            AgentCard(agent_id=a, instance_id=i, model="m", family="f", backend="sim")
            for a, i in (("stray", "i-stray"), ("kept", "i-kept"), ("far", "i-far"))
        ]
        assert [c.agent_id for c in runners.elsewhere(cards, tmp_path)] == ["far"]
