"""NATS itself dies: ``kill -9`` of nats-server in the middle of 30 tasks, a restart on the
same port and JetStream store, and every task still gets exactly one result. Every service
and runner (separate processes), ``nsed submit`` and ``nsed watch`` ride it out, and say
so in a line or two: no traceback, no error, no line per retry."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from services.stack import health
from tests.e2e.conftest import POOL_AGENTS
from tests.support import nsed
from tests.support.natsserver import NatsServer, kill9, restart
from tests.support.processes import ROOT, SERVICES, ProcessStack
from tests.support.wait import until

NSED = [sys.executable, "-m", "services.cli.main"]
TASKS = 30
SHORT = 6  # one-round tasks: their results show the stack at work before the kill
# How long the server stays dead: longer than a publish's 5 s timeout, so that requests in
# flight at the kill fail and must be retried (this is the outage, not a wait for anything).
OUTAGE_S = 6.0


@pytest.fixture
async def client(server: NatsServer, processes: ProcessStack) -> AsyncIterator[Client]:
    nc = await nsed.connect(server.url)
    try:
        await until(lambda: _healthy(nc), timeout=60, what="the stack to be healthy")
        yield nc
    finally:
        await nc.close()


@pytest.fixture
async def inbox(server: NatsServer) -> AsyncIterator[nsed.ResultInbox]:
    """A plain subscription on ``nsed.results.>`` held across the restart."""
    held = await nsed.ResultInbox.held(server.url)
    try:
        yield held
    finally:
        await held.close()


async def _healthy(nc: Client) -> bool:
    found = await health.discover(nc, wait=0.15)
    live = await health.live_agent_ids(nc)
    return all(found.get(s) for s in SERVICES) and set(POOL_AGENTS) <= live


async def _cli(url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *NSED, *args, cwd=ROOT, env={**os.environ, "NSED_NATS_URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _first_line(stream: asyncio.StreamReader | None, starting: str) -> str:
    assert stream is not None
    while line := (await asyncio.wait_for(stream.readline(), timeout=60)).decode():
        if line.startswith(starting):
            return line
    raise AssertionError(f"the command ended before a line starting {starting!r}")


async def test_a_nats_restart_mid_run_loses_no_task_and_repeats_none(
    client: Client, server: NatsServer, processes: ProcessStack, inbox: nsed.ResultInbox
) -> None:
    offsets = {name: _size(processes, name) for name in processes.procs}
    ids = [nsed.new_task_id("restart") for _ in range(TASKS)]
    rounds = {t: 1 if i < SHORT else 4 for i, t in enumerate(ids)}
    await asyncio.gather(
        *(nsed.publish_task(client, nsed.task(t, max_rounds=r, min_rounds=r), msg_id=t)
          for t, r in rounds.items())
    )  # fmt: skip
    watched = ids[-1]
    watch = await _cli(server.url, "watch", watched)
    submit = await _cli(server.url, "submit", "What is 2+2?", "--answer", "4", "--min-rounds", "4",
                        "--max-rounds", "4")  # fmt: skip
    # Both commands are connected and following: each has printed its team.
    watch_head = await _first_line(watch.stdout, "team ")
    await _first_line(submit.stderr, "team ")
    await until(lambda: all(inbox.count(t) for t in ids[:SHORT]), timeout=60,
                what="the one-round tasks' results")  # fmt: skip

    unfinished = [t for t in ids if not inbox.count(t)]
    assert watched in unfinished, "the kill should land while the watched task runs"
    assert len(unfinished) >= (TASKS - SHORT) // 2, "the kill should land mid-run"
    killed = time.monotonic()
    kill9(server)
    await asyncio.sleep(OUTAGE_S)  # the outage itself (see OUTAGE_S)
    restart(server)

    results = {t: await inbox.result(t, timeout=120) for t in ids}
    elapsed = time.monotonic() - killed
    watch_out, watch_err = await asyncio.wait_for(watch.communicate(), timeout=120)
    submit_out, submit_err = await asyncio.wait_for(submit.communicate(), timeout=120)
    await until(lambda: nsed.idle(client), timeout=60, every=0.2, what="the stack to be idle")
    await inbox.settle()
    stored = await nsed.stored_results(client, set(ids))
    subscribed = [t for t in ids if inbox.must_have(_stored_at(stored[t][0]))]
    print(f"{TASKS} tasks, {len(unfinished)} unfinished at the kill, all answered "
          f"{elapsed:.1f}s after it; {TASKS - len(subscribed)} published while the inbox "
          "was reconnecting")  # fmt: skip

    # Exactly once: the stream holds one result per task, the plain subscription received
    # none twice, and each one published while it was subscribed exactly once.
    assert {t: len(m) for t, m in stored.items()} == dict.fromkeys(ids, 1)
    assert [inbox.count(t) for t in subscribed] == [1] * len(subscribed)
    assert max(inbox.count(t) for t in ids) == 1
    # Nothing lost to the outage: every task ran all its rounds, no seat or ballot missing.
    assert {r.status for r in results.values()} == {"completed"}
    assert [results[t].rounds for t in ids] == [rounds[t] for t in ids]
    assert [t for t, r in results.items() if any(s.degraded for s in r.summaries)] == []
    for task_id, result in results.items():
        assert await nsed.stored_result(client, task_id) == result

    # Every process logged the outage in a line or two: no error, no traceback, no spam.
    for name in processes.procs:
        lines = _new_lines(processes, name, offsets.get(name, 0))
        raw = [line for line in lines if not isinstance(line, dict)]
        assert raw == [], f"{name} printed outside its log lines: {raw[:5]}"
        levels = collections.Counter(line["level"] for line in lines)
        assert levels["error"] == levels["critical"] == 0, _tail(name, lines)
        warnings = collections.Counter(e["event"] for e in lines if e["level"] == "warning")
        assert warnings["nats_disconnected"] == 1, _tail(name, lines)
        assert max(warnings.values()) == 1, f"{name} repeats warnings: {warnings}"
        assert [e["event"] for e in lines].count("nats_reconnected") == 1, _tail(name, lines)

    # The CLI followed through: one line when it lost NATS, one when it got it back.
    for name, code, err in (("watch", watch.returncode, watch_err), ("submit", submit.returncode,
                                                                     submit_err)):  # fmt: skip
        text = err.decode()
        assert code == 0, f"nsed {name}: {text}"
        assert text.count("nsed: lost the connection to NATS") == 1, text
        assert text.count("nsed: connected to NATS again after") == 1, text
        assert "Traceback" not in text, text
        assert "unexpected" not in text, text
    assert "completed (max_rounds) after 4 round(s)" in submit_err.decode()
    assert submit_out.decode().startswith("answer: ")
    # nsed watch showed every round of the watched task once, those after the restart too.
    shown = [line for line in (watch_head + watch_out.decode()).splitlines() if ": winner " in line]
    assert [line.split(":")[0] for line in shown] == [f"round {n}" for n in range(1, 5)]


def _stored_at(msg: Any) -> float:
    return float(msg.metadata.timestamp.timestamp())


def _size(processes: ProcessStack, name: str) -> int:
    path = processes.logs / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def _new_lines(processes: ProcessStack, name: str, offset: int) -> list[Any]:
    """The lines a process logged since ``offset``: JSON objects, or the raw text of any
    line that is not one (a traceback, a warning printed by Python itself)."""
    path: Path = processes.logs / f"{name}.log"
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    parsed: list[Any] = []
    for line in text.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append(line)
    return parsed


def _tail(name: str, lines: list[Any]) -> str:
    interesting = [e for e in lines if not isinstance(e, dict) or e.get("level") != "info"]
    return f"{name}: {interesting[-10:]}"
