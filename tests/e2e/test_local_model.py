"""The real packaged model end to end: ``nsed stack up --pool infra/agents/local.toml`` (what
``make up POOL=infra/agents/local.toml`` runs) assembles Gemma 3 270M, serves it with one
llama-cpp-python server under supervisord, starts the three seats once it answers, and one
round deliberates on it; ``nsed stack down`` leaves no process, the model server included.

The model is a tiny pre-trained one: this checks the mechanics (every seat proposed and
reviewed through the real server, ballots and usage recorded, a well-formed result), never
the answer. One round took 85 s on 2 cores shared with other jobs; the timeouts leave room for a
busy machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from schemas.gate import DeliberationConcluded
from services._runtime import credentials
from services.stack.supervisor import StackPaths, Supervisor
from tests.support import nsed as client
from tests.support.natsserver import free_port
from tests.support.processes import ROOT

POOL = ROOT / "infra" / "agents" / "local.toml"
SEATS = ("gemma-cold", "gemma-warm", "gemma-hot")
# Shorter generations than the pool's (192, 256): the server has one slot, so a round is six
# calls in a row, and the mechanics need no more text than this.
MAX_TOKENS, REVIEW_MAX_TOKENS = 96, 160


def short_pool(into: Path) -> Path:
    """The shipped pool with only its generation lengths cut."""
    text = POOL.read_text()
    for old, new in (
        ("max_tokens = 192", f"max_tokens = {MAX_TOKENS}"),
        ("review_max_tokens = 256", f"review_max_tokens = {REVIEW_MAX_TOKENS}"),
    ):
        assert text.count(old) == len(SEATS), old
        text = text.replace(old, new)
    into.write_text(text)
    return into


def nsed(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def deliberate(
    url: str, home: Path
) -> tuple[DeliberationConcluded, list[dict[str, Any]], list[Any]]:
    # As the CLI does: the stack's admin key (authorization is on), which may read results.
    nc = await client.connect(url, **credentials.for_principal("admin", home).options())
    try:
        task_id = client.new_task_id("gemma")
        body = client.task(
            task_id, team=list(SEATS), max_rounds=1, deadline_s=900.0, phase_timeout_s=400.0
        )
        await client.publish_task(nc, body, msg_id=task_id)
        result = await client.wait_result(nc, task_id, timeout=900)
        proposals = await client.task_events(nc, task_id, "proposal")
        ballots = await client.task_ballots(nc, task_id)
    finally:
        await nc.close()
    return result, proposals, ballots


@pytest.mark.timeout(1200)
def test_the_packaged_model_is_served_by_the_stack_and_deliberates_one_round(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    url = f"nats://127.0.0.1:{free_port()}"
    env = {**os.environ, "NSED_HOME": str(home), "NSED_NATS_URL": url, "COLUMNS": "200",
           "NSED_GATEWAY_PORT": str(free_port())}  # fmt: skip
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    pids: list[int] = []
    try:
        up_started = time.monotonic()
        pool = short_pool(tmp_path / "local.toml")
        up = nsed(env, "stack", "up", "--pool", str(pool), "--no-demo", timeout=400)
        up_took = time.monotonic() - up_started
        assert up.returncode == 0, up.stdout + up.stderr
        said = " ".join(up.stderr.split())
        assert "assembling gemma3-270m into" in said
        assert "model server gemma3-270m answering at http://127.0.0.1:" in said
        processes = {p["name"]: p for p in supervisor.processes()}
        assert {f"agent-{s}" for s in SEATS} | {"model-gemma3-270m"} <= set(processes)
        assert all(p["statename"] == "RUNNING" for p in processes.values()), processes
        pids = [p["pid"] for p in processes.values()]
        started = time.monotonic()
        result, proposals, ballots = asyncio.run(deliberate(url, home))
        took = time.monotonic() - started
        print(f"stack up {up_took:.0f}s, one round {took:.0f}s: {result.status}, {result.detail}")
        status = nsed(env, "stack", "status", timeout=60)
        assert "model server model-gemma3-270m: http://127.0.0.1:" in status.stdout
        served = (home / "logs" / "model-gemma3-270m.log").read_text(errors="replace")
    finally:
        down = nsed(env, "stack", "down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert supervisor.pid() is None
    assert [pid for pid in pids if _alive(pid)] == []

    # The runners called the stack's server: a probe when each went live (to measure its
    # latency), then one proposal and one review each.
    assert served.count('"POST /v1/chat/completions HTTP/1.1" 200') == 3 * len(SEATS)
    assert result.simulated is False
    assert result.status in ("completed", "degraded"), result.detail
    assert result.rounds == 1
    assert result.status == "completed" or result.detail
    [summary] = result.summaries
    assert summary.ok_proposals == len(SEATS), (result.detail, took)
    assert sorted(p["agent_id"] for p in proposals) == sorted(SEATS)
    own = {p["agent_id"]: p["proposal_id"] for p in proposals}
    for proposal in proposals:
        assert proposal["status"] == "ok"
        assert proposal["content"].strip()
        assert 0 < proposal["usage"]["output_tokens"] <= MAX_TOKENS
    # One ballot per seat; a valid one weighs only others' proposals, within range.
    assert sorted(b["agent_id"] for b in ballots) == sorted(SEATS)
    for ballot in ballots:
        if ballot["valid"]:
            assert ballot["weights"]
            assert own[ballot["agent_id"]] not in ballot["weights"]
            assert set(ballot["weights"]) <= set(own.values())
            assert all(-100 <= w <= 100 for w in ballot["weights"].values())
        else:
            assert ballot["notes"], ballot
    # Counted toward quorum: valid ballots that state a preference.
    assert summary.valid_ballots <= sum(b["valid"] for b in ballots)
    # Usage is what the server counted: two calls per seat, all of them paid in tokens.
    assert {agent: u.calls for agent, u in result.usage.items()} == dict.fromkeys(SEATS, 2)
    for usage in result.usage.values():
        assert usage.input_tokens > 0
        assert 0 < usage.output_tokens <= MAX_TOKENS + REVIEW_MAX_TOKENS
    assert result.total.calls == 2 * len(SEATS)
    assert result.total.output_tokens == sum(u.output_tokens for u in result.usage.values())
    assert result.cost_usd == 0.0
