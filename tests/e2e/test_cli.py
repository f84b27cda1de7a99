"""The ``nsed`` command against a running stack: the contract of the README's "Command line"."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import nsed
from tests.support.natsserver import NatsServer, free_port
from tests.support.processes import ROOT, ProcessStack

NSED = [sys.executable, "-m", "services.cli.main"]


@pytest.fixture
def run(server: NatsServer, processes: ProcessStack) -> Iterator:
    def _run(
        *args: str, url: str | None = None, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NSED_NATS_URL": url or server.url}
        return subprocess.run([*NSED, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, input=input)  # fmt: skip

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
    tallies = [line for line in done.stderr.splitlines() if ": winner " in line]
    assert all(line.endswith(" so far") and "· $" in line for line in tallies)  # cost so far
    assert "\\boxed{" in done.stdout
    assert done.stdout.splitlines()[0].startswith("answer: ")  # the extracted answer first
    err = done.stderr.splitlines()
    # Said at the top, before the team and any round: simulated agents, and what they are.
    notice = next(i for i, line in enumerate(err) if line.startswith("simulated agents are"))
    assert notice < next(i for i, line in enumerate(err) if line.startswith("team ("))
    assert "against your --answer" in err[notice + 1]
    assert "simulated agents" in err[-1]  # and in the summary


def test_without_answer_the_simulated_agents_say_they_answer_a_placeholder(run) -> None:
    done = run("submit", "What is the capital of France?", "--protocol", "vote")
    assert done.returncode in (0, 3), done.stderr
    err = done.stderr.splitlines()
    assert err[1].startswith("simulated agents are answering")
    assert "hidden placeholder" in err[2]
    assert err[3].startswith("team (")


def test_allow_repeat_seats_seats_more_members_than_live_agents(run) -> None:
    done = run("submit", "What is 6*7?", "--answer", "42", "--protocol", "vote",
               "--team-size", "6", "--allow-repeat-seats", "--json")  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    team = [seat["agent_id"] for seat in json.loads(done.stdout)["team"]]
    assert len(team) == 6
    assert len(set(team)) < 6  # four agents are live: some hold more than one seat


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


def test_a_prompt_too_long_for_argv_goes_by_stdin_and_no_wait_json_prints_json(run) -> None:
    # 154 kB (past one argument's limit), 77,000 characters (within a task's 100,000).
    prompt = "What is 3*3?\n" + "≈→≥…×→ 3. " * 7_000
    queued = run("submit", "-", "--answer", "9", "--no-wait", "--json", input=prompt)
    assert queued.returncode == 0, queued.stderr
    sent = json.loads(queued.stdout)  # stdout is exactly one JSON document
    assert list(sent) == ["task_id"]
    assert run("watch", sent["task_id"]).returncode in (0, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("result", "no-such-task"), "no task 'no-such-task'"),
        (("submit", "x", "--team-size", "0"), "invalid task"),
        (("submit", "x", "--deadline", "-5"), "invalid task"),
        (("submit", "x", "--team-size", "8"), "--team-size 8, but 4 agent(s) are live"),
        (("submit", "x", "--team-size", "1"), "below quorum: nsed needs a team of at least 2"),
        (("submit", "x", "--answer", "forty-two", "--format", "integer"), "not an integer"),
        (("submit", "Pick one.", "--format", "choice"), "the prompt shows no options"),
    ],
)
def test_errors_are_one_readable_line_and_exit_2(run, args: tuple[str, ...], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nsed: ")
    assert message in lines[0]


def test_an_unknown_domain_is_a_warning_and_the_task_runs(run) -> None:
    done = run("submit", "What is 2+2?", "--answer", "4", "--domain", "chemistry",
               "--max-rounds", "1", "--json")  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    assert json.loads(done.stdout)["status"] in ("completed", "degraded")
    [warning] = [line for line in done.stderr.splitlines() if line.startswith("nsed: ")]
    assert warning.startswith("nsed: warning: no live agent declares the domain 'chemistry'")


def test_a_misspelt_policy_field_in_task_json_comes_back_as_a_warning(run, server) -> None:
    task_id = f"cli-{os.getpid()}-typo"
    body = nsed.task(task_id, "What is 6*7?", "42", max_round=1)  # max_rounds, misspelt

    async def send() -> None:
        nc = await nsed.connect(server.url)
        try:
            await nsed.publish_task(nc, body)
            await nsed.wait_result(nc, task_id)
        finally:
            await nc.close()

    asyncio.run(send())
    warning = "unknown field 'policy.max_round' ignored (did you mean 'policy.max_rounds'?)"
    fetched = run("result", task_id, "--json")
    assert json.loads(fetched.stdout)["warnings"] == [warning]
    shown = run("result", task_id)
    assert f"nsed: warning: {warning}" in shown.stderr.splitlines()
    watched = run("watch", task_id)
    assert f"nsed: warning: {warning}" in watched.stderr.splitlines()


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


def test_cancelling_an_ended_task_says_so_on_whole_lines(run) -> None:
    done = run("submit", "What is 2+2?", "--answer", "4", "--max-rounds", "1", "--json")
    assert done.returncode in (0, 3), done.stderr
    task_id = json.loads(done.stdout)["task_id"]
    late = run("cancel", task_id)
    assert late.returncode == 0
    first, summary = late.stderr.strip().splitlines()  # piped: never cut at 80 columns
    assert first == f"nsed: task {task_id} had already ended; nothing to cancel"
    assert summary.startswith(("completed (", "degraded ("))
    assert summary.endswith("simulated agents")
