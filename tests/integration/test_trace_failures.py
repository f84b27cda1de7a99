"""The trace of a task that failed in round 1 still has its root span and its round span,
in the span files ``nsed trace`` reads: when every proposal failed (no quorum), and when
the task's deadline cut round 1 short."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client

from schemas.gate import DeliberationConcluded
from services.cli.trace import Node, Span, build_tree, load_task_spans, traces_dir
from services.stack.natsserver import free_port
from tests.integration.conftest import ready
from tests.integration.test_openai_services import pool
from tests.integration.test_trace_cli import COLLECTOR_VARS, nsed_trace
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


@pytest.fixture(autouse=True)
def no_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans go to the files only when no collector is configured."""
    for name in COLLECTOR_VARS:
        monkeypatch.delenv(name, raising=False)


async def failed_task(
    inproc: InProcessServices, nc: Client, agents: tuple[str, ...], **policy: object
) -> tuple[str, DeliberationConcluded]:
    """A task run to its result, with every service's spans flushed to the files."""
    inproc.start_all(agents=agents)
    await ready(nc, agents=agents)
    task_id = nsed.new_task_id("fail")
    await nsed.publish_task(nc, nsed.task(task_id, **policy), msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    await inproc.close()  # every service flushes its spans
    directory = traces_dir(inproc.home)
    await until(
        lambda: any(s.is_root for s in load_task_spans(directory, task_id)),
        timeout=15,
        what="the root span in the span files",
    )
    return task_id, result


def the_tree(home: str, task_id: str) -> Node:
    [root] = build_tree(load_task_spans(traces_dir(home), task_id))
    return root


def named(node: Node, prefix: str) -> list[Span]:
    return [c.span for c in node.children if c.span.name.startswith(prefix)]


async def test_a_task_whose_proposals_all_failed_in_round_1_has_its_root_and_round_spans(
    tmp_path: Path, nats_server, nc: Client
) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: every call fails
    agents = [{"id": f"down-{i}", "model": "m", "base_url": down, "extra": "max_retries = 0"}
              for i in range(3)]  # fmt: skip
    inproc = InProcessServices(url=nats_server.url, pool=pool(tmp_path, agents),
                           home=str(tmp_path / "home"))  # fmt: skip
    task_id, result = await failed_task(inproc, nc, ("down-0", "down-1", "down-2"), max_rounds=2)
    assert (result.status, result.stop_reason) == ("failed", "no_quorum")

    root = the_tree(inproc.home, task_id)
    assert root.span.name == f"deliberation {task_id}"
    assert root.span.trace_id == result.trace_id
    assert root.span.status == "error"  # no answer: the task failed
    assert root.span.attributes["nsed.status"] == "failed"
    assert root.span.attributes["nsed.stop_reason"] == "no_quorum"
    [round1] = [c for c in root.children if c.span.name == "round 1"]
    assert named(round1, "round ") == []
    proposes = [c for c in round1.children if c.span.name.startswith("propose ")]
    assert sorted(p.span.name for p in proposes) == ["propose down-0", "propose down-1",
                                                      "propose down-2"]  # fmt: skip
    assert all(p.span.attributes["nsed.status"] == "error" for p in proposes)
    assert named(round1, "gate")  # the gate's decision is in the round

    code, out, err = await nsed_trace(inproc.home, task_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(f"deliberation {task_id}  gate  ")
    assert "ERROR · failed · no_quorum · 1 round(s)" in lines[1]
    assert any(line.startswith("└── round 1  gate") for line in lines)


async def test_a_task_whose_deadline_cut_round_1_short_has_its_root_and_round_spans(
    inproc: InProcessServices, nc: Client
) -> None:
    task_id, result = await failed_task(inproc, nc, ("alpha", "bravo", "charlie"),
                                        deadline_s=0.001)  # fmt: skip
    assert result.stop_reason == "deadline"
    assert result.round == 1

    root = the_tree(inproc.home, task_id)
    assert root.span.attributes["nsed.stop_reason"] == "deadline"
    assert [c.span.name for c in root.children if c.span.name.startswith("round ")] == ["round 1"]
    assert root.span.status == ("error" if result.status == "failed" else "unset")
    assert named(root, "timer task")  # the gate's deadline timer, which ended it
