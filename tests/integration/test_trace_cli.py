"""``nsed trace`` on a real deliberation: the span files the services wrote, no collector."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client

from services._runtime import tracing
from services.cli.trace import load_task_spans, traces_dir
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

ROOT = Path(__file__).resolve().parents[2]
NSED = [sys.executable, "-m", "services.cli.main"]
COLLECTOR_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@pytest.fixture(autouse=True)
def no_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans go to the files only when no collector is configured, here and in nsed trace."""
    for name in COLLECTOR_VARS:
        monkeypatch.delenv(name, raising=False)


async def nsed_trace(home: str, *args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """``nsed trace ...`` as its own process, with no collector in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in COLLECTOR_VARS}
    env["NSED_HOME"] = home
    proc = await asyncio.create_subprocess_exec(
        *NSED, "trace", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def deliberate(inproc: InProcessServices, nc: Client, rounds: int) -> tuple[str, str]:
    """One finished task, its spans all written (services flush their spans when stopped)."""
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("trace")
    body = nsed.task(task_id, max_rounds=rounds, min_rounds=rounds)
    await nsed.publish_task(nc, body, msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    assert result.rounds == rounds
    assert result.trace_id is not None
    await inproc.close()
    directory = traces_dir(inproc.home)
    await until(
        lambda: any(s.is_root for s in load_task_spans(directory, task_id)),
        timeout=15,
        what="the root span in the span files",
    )
    return task_id, result.trace_id


async def test_nsed_trace_renders_a_finished_deliberation_from_the_span_files_alone(
    inproc: InProcessServices, nc: Client
) -> None:
    task_id, trace_id = await deliberate(inproc, nc, rounds=2)
    code, out, err = await nsed_trace(inproc.home, task_id)
    print(out)  # the sample output in the README comes from here (pytest -s)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"trace {trace_id}"
    assert lines[1].startswith(f"deliberation {task_id}  gate  ")
    assert "completed · max_rounds · 2 round(s)" in lines[1]
    assert any(line.startswith("├── round 1  gate") for line in lines)
    assert any(line.startswith("└── round 2  gate") for line in lines)
    chats = [line for line in lines if "── chat " in line]
    assert len(chats) == 12  # 3 agents x (propose + review) x 2 rounds
    assert all("tokens in " in line and " / out " in line and "$" in line for line in chats)
    tallies = [line for line in lines if "── tally  voter" in line]
    assert len(tallies) == 2
    assert all("winner " in line and "conviction " in line for line in tallies)
    assert any("── gate  gate" in line and "decision continue" in line for line in lines)


async def test_nsed_trace_json_is_one_tree_under_the_results_trace_id(
    inproc: InProcessServices, nc: Client
) -> None:
    task_id, trace_id = await deliberate(inproc, nc, rounds=1)
    code, out, err = await nsed_trace(inproc.home, task_id, "--json")
    assert code == 0, err
    document = json.loads(out)
    [root] = document["tree"]
    assert root["name"] == f"deliberation {task_id}"
    assert document["trace_ids"] == [trace_id]
    assert root["trace_id"] == trace_id
    round1 = next(c for c in root["children"] if c["name"] == "round 1")
    proposes = [c for c in round1["children"] if c["name"].startswith("propose ")]
    assert len(proposes) == 3
    assert all(p["children"][0]["name"].startswith("chat ") for p in proposes)
    code, _, err = await nsed_trace(inproc.home, "no-such-task")
    assert code == 2
    assert err.startswith(f"nsed: no spans of task no-such-task under {traces_dir(inproc.home)} ")


async def test_a_sampled_task_has_its_whole_trace_and_an_unsampled_one_none(
    inproc: InProcessServices, nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The standard sampler variables, read by every service: each decides by the task's
    # trace id, so a trace is whole or absent, never a few spans of some services.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    ids = [nsed.new_task_id("sampled") for _ in range(40)]
    kept = [t for t in ids if tracing.sampled(tracing.root_context(t).trace_id)][:2]
    dropped = [t for t in ids if not tracing.sampled(tracing.root_context(t).trace_id)][:2]
    assert len(kept) == len(dropped) == 2
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    for task_id in kept + dropped:
        body = nsed.task(task_id, max_rounds=2, min_rounds=2)
        await nsed.publish_task(nc, body, msg_id=task_id)
    results = [await nsed.wait_result(nc, t) for t in kept + dropped]
    assert [r.rounds for r in results] == [2, 2, 2, 2]
    await inproc.close()  # every service flushes its spans as it stops
    directory = traces_dir(inproc.home)
    for task_id in kept:
        spans = load_task_spans(directory, task_id)
        assert sum(s.is_root for s in spans) == 1
        names = [s.name for s in spans]
        assert sum(n.startswith("chat ") for n in names) == 12  # 3 agents × 2 calls × 2 rounds
        assert {"round 1", "round 2", "tally", "gate"} <= set(names)
    written = b"".join(path.read_bytes() for path in directory.glob("*.jsonl"))
    for task_id in dropped:
        assert json.dumps(task_id).encode() not in written
