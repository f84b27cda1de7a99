"""The ``nsed`` command against a running stack: the contract of DESIGN §10."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.natsserver import NatsServer, free_port
from tests.support.processes import ROOT, ProcessStack

NSED = [sys.executable, "-m", "services.cli.main"]


@pytest.fixture
def run(server: NatsServer, processes: ProcessStack) -> Iterator:
    def _run(
        *args: str, url: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NSED_NATS_URL": url or server.url}
        return subprocess.run([*NSED, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip

    # Wait for the pool (the module's stack may still be starting).
    for _ in range(60):
        listed = _run("agents", "--json")
        if listed.returncode == 0 and len(json.loads(listed.stdout)) >= 4:
            break
    return _run


def test_submit_json_prints_exactly_one_result_and_exits_by_status(run) -> None:
    done = run("submit", "What is 17*23?", "--answer", "391", "--json", "--max-rounds", "3")
    assert done.returncode in (0, 3), done.stderr
    result = json.loads(done.stdout)  # stdout is exactly the JSON document
    assert result["type"] == "deliberation.concluded"
    for key in ("status", "stop_reason", "answer", "rounds", "summaries", "usage", "total"):
        assert key in result
    assert len(result["summaries"]) == result["rounds"] <= 3
    assert result["extracted_answer"] is not None
    assert done.returncode == {"completed": 0, "degraded": 3}[result["status"]]


def test_submit_without_json_shows_rounds_and_prints_the_answer(run) -> None:
    done = run("submit", "What is 2+2?", "--answer", "4", "--max-rounds", "2", "--min-rounds", "2")
    assert done.returncode == 0, done.stderr
    assert "round 1: winner" in done.stderr
    assert "round 2: winner" in done.stderr
    assert "\\boxed{" in done.stdout
    assert "simulated agents" in done.stderr


def test_agents_json_lists_the_live_pool(run) -> None:
    listed = run("agents", "--json")
    assert listed.returncode == 0
    agents = {a["agent_id"]: a for a in json.loads(listed.stdout)}
    assert {"alpha", "bravo", "charlie", "delta"} <= set(agents)
    assert agents["alpha"]["backend"] == "sim"
    assert agents["alpha"]["instances"] >= 1


def test_no_wait_then_result_and_watch_follow_the_same_task(run) -> None:
    queued = run("submit", "What is 3*3?", "--answer", "9", "--no-wait")
    assert queued.returncode == 0
    task_id = queued.stdout.strip()
    watched = run("watch", task_id)
    assert watched.returncode in (0, 3)
    assert "team" in watched.stdout
    assert "answer:" in watched.stdout
    fetched = run("result", task_id, "--json")
    assert fetched.returncode in (0, 3)
    assert json.loads(fetched.stdout)["task_id"] == task_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("result", "no-such-task"), "no task 'no-such-task'"),
        (("submit", "x", "--team-size", "0"), "invalid task"),
        (("submit", "x", "--deadline", "-5"), "invalid task"),
    ],
)
def test_errors_are_one_readable_line_and_exit_2(run, args: tuple[str, ...], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nsed: ")
    assert message in lines[0]


def test_an_unreachable_server_is_one_line_and_exit_2(run) -> None:
    done = run("submit", "x", url=f"nats://127.0.0.1:{free_port()}", timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach NATS" in done.stderr


def test_agent_run_with_an_unknown_agent_id_is_one_line_and_exit_2(run) -> None:
    pool = Path(__file__).resolve().parents[1] / "data" / "pool.toml"
    done = run("agent", "run", str(pool), "--agent", "nobody")
    assert done.returncode == 2
    assert "no agent 'nobody' in the pool" in done.stderr
    assert done.stderr.count("\n") == 1


def test_eval_prints_the_summary_json_then_resumes_from_out(run, tmp_path: Path) -> None:
    data = ROOT / "services" / "bench" / "data" / "gsm8k-test-500.jsonl"
    args = ("eval", str(data), "--limit", "2", "--protocols", "vote,nsed", "--max-rounds", "2")
    first = run(*args, "--out", str(tmp_path), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)  # stdout is exactly the JSON document
    assert (report["suite"], report["dataset"]) == ("eval", "gsm8k-test-500")
    assert [(r["protocol"], r["tasks"]) for r in report["results"]] == [("vote", 2), ("nsed", 2)]
    assert {p.name for p in tmp_path.iterdir()} >= {"results.jsonl", "summary.md", "run.json"}

    again = run(*args, "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "resumed 4 task(s)" in again.stderr
    assert "0 to run" in again.stderr
    assert "nsed eval: gsm8k-test-500" in again.stdout  # the table


def test_eval_with_an_unreachable_server_is_one_line_and_exit_2(run, tmp_path: Path) -> None:
    data = tmp_path / "one.jsonl"
    data.write_text('{"prompt": "What is 6*7?", "answer": "42"}\n')
    done = run("eval", str(data), url=f"nats://127.0.0.1:{free_port()}", timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach NATS" in done.stderr


def test_a_task_id_is_an_idempotency_key_for_submit(run) -> None:
    task_id = f"cli-{os.getpid()}-reuse"
    first = run("submit", "What is 2+2?", "--answer", "4", "--task-id", task_id, "--json")
    assert first.returncode in (0, 3), first.stderr
    refused = run("submit", "What is 5+5?", "--answer", "10", "--task-id", task_id, "--json")
    assert refused.returncode == 2
    assert refused.stdout == ""
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("nsed: refused: task id")
    assert "already used by another task" in line
    again = run("submit", "What is 2+2?", "--answer", "4", "--task-id", task_id, "--json")
    assert again.returncode == first.returncode
    assert json.loads(again.stdout)["answer"] == json.loads(first.stdout)["answer"]


def test_cancel_stops_a_running_task_and_result_says_cancelled(run) -> None:
    started = run("submit", "What is 17*23?", "--answer", "391", "--max-rounds", "6",
                  "--min-rounds", "6", "--no-wait")  # fmt: skip
    assert started.returncode == 0, started.stderr
    task_id = started.stdout.strip()
    cancelled = run("cancel", task_id, "--reason", "testing", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    result = json.loads(cancelled.stdout)
    assert result["task_id"] == task_id
    assert result["status"] in ("cancelled", "completed", "degraded")  # it may have ended first
    shown = run("result", task_id, "--json")
    assert shown.returncode == {"cancelled": 5, "completed": 0, "degraded": 3}[result["status"]]
    unknown = run("cancel", "no-such-task")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "nsed: no task 'no-such-task' on this server"
