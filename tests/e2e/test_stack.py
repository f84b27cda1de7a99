"""``nsed stack up / status / down`` (what ``make up``, ``make status`` and ``make down``
run): supervisord starts everything, a second ``up`` starts nothing, ``down`` leaves no
process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from services.stack.supervisor import StackPaths, Supervisor
from tests.support.natsserver import NatsServer, free_port
from tests.support.processes import ROOT
from tests.support.wait import until_sync

POOL = ROOT / "tests" / "data" / "pool.toml"


def nsed(env: dict[str, str], *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def stack_env(home: Path, nats_url: str) -> dict[str, str]:
    """A stack of its own: its home, its NATS and its gateway on free ports (another stack
    on this machine may hold the defaults)."""
    return {**os.environ, "NSED_HOME": str(home), "NSED_NATS_URL": nats_url,
            "NSED_GATEWAY_PORT": str(free_port())}  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.timeout(300)
def test_stack_up_is_idempotent_and_down_leaves_nothing_running(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home, f"nats://127.0.0.1:{free_port()}")
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    try:
        up = nsed(env, "stack", "up", "--pool", str(POOL))
        assert up.returncode == 0, up.stdout + up.stderr
        assert "healthy in" in up.stderr
        assert "Traceback" not in up.stderr  # NATS starting is waited for quietly
        assert "demo deliberation" in up.stderr
        assert "\\boxed{391}" in up.stdout
        first = supervisor.pid()
        assert first is not None
        pids = [p["pid"] for p in supervisor.processes()]
        names = sorted(p["name"] for p in supervisor.processes())
        assert names == sorted(["nats", "broker", "reviewer", "voter", "gate", "gateway",
                                "agent-alpha", "agent-bravo", "agent-charlie", "agent-delta",
                                "agent-newbie"])  # fmt: skip
        assert all(p["statename"] == "RUNNING" for p in supervisor.processes())

        again = nsed(env, "stack", "up", "--pool", str(POOL))
        assert again.returncode == 0
        assert "already running" in again.stderr
        assert supervisor.pid() == first
        assert [p["pid"] for p in supervisor.processes()] == pids

        status = nsed(env, "stack", "status")
        assert status.returncode == 0
        assert "RUNNING" in status.stdout
        gateway = f"http://127.0.0.1:{env['NSED_GATEWAY_PORT']}"
        assert f"gateway: {gateway}/v1" in status.stdout
        assert f"openai   {gateway}/v1" in up.stderr
        with urllib.request.urlopen(f"{gateway}/v1/models", timeout=10) as reply:
            assert json.load(reply)["data"][0]["id"] == "nsed"
        listed = nsed(env, "agents", "--json")
        assert len(json.loads(listed.stdout)) == 5
        assert (home / "logs" / "broker.log").exists()
    finally:
        down = nsed(env, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert supervisor.pid() is None
    assert [pid for pid in [first, *pids] if _alive(pid)] == []
    assert nsed(env, "stack", "down").stderr.strip() == "NSED is not running."


@pytest.mark.timeout(300)
def test_a_running_stack_on_another_url_is_named_not_waited_for(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"nats://127.0.0.1:{free_port()}"
    env = stack_env(home, url)
    elsewhere = {**env, "NSED_NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    try:
        up = nsed(env, "stack", "up", "--no-demo", "--pool", str(POOL))
        assert up.returncode == 0, up.stdout + up.stderr
        again = nsed(elsewhere, "stack", "up", "--no-demo", "--pool", str(POOL), timeout=30)
        assert again.returncode == 2
        assert again.stderr.startswith(f"nsed: the stack in {home} is running and listens on {url}")
        assert "Traceback" not in again.stderr
        status = nsed(elsewhere, "stack", "status", timeout=30)
        assert status.returncode == 0, status.stderr
        assert f"NATS: this stack listens on {url}" in status.stdout
        assert "live agents: alpha, bravo, charlie, delta, newbie" in status.stdout
    finally:
        down = nsed(env, "stack", "down")
    assert down.returncode == 0, down.stderr


STRAY = """
[[agents]]
id = "stray"
model = "stray-7b"
family = "s"
[agents.sim]
p_g = 0.9
p_v = 0.9
latency_median_s = 0.05
"""


@pytest.mark.timeout(300)
def test_a_runner_started_by_hand_is_listed_named_and_stopped_by_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack_env(home, f"nats://127.0.0.1:{free_port()}")
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    pool = tmp_path / "stray.toml"
    pool.write_text(STRAY)
    stderr = (tmp_path / "stray.stderr").open("wb")
    runner: subprocess.Popen[bytes] | None = None
    try:
        up = nsed(env, "stack", "up", "--no-demo", "--pool", str(POOL))
        assert up.returncode == 0, up.stdout + up.stderr
        pids = [p["pid"] for p in supervisor.processes()]
        runner = subprocess.Popen([sys.executable, "-m", "services.cli.main", "agent", "run",
                                   str(pool), "--agent", "stray"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
        until_sync(lambda: "stray" in nsed(env, "agents", "--json").stdout, timeout=30,
                   what="the runner started by hand to be live")  # fmt: skip
        [log] = (home / "logs").glob("agent-stray-*.log")
        named = f"stray (pid {runner.pid}, log {log})"

        status = nsed(env, "stack", "status")
        assert status.returncode == 0, status.stderr
        assert f"runner started by hand: {named}" in status.stdout
        # The next `up` (another pool, say) says the stray agent may be seated.
        again = nsed(env, "stack", "up", "--no-demo", "--pool", str(POOL))
        assert again.returncode == 0, again.stderr
        assert f"warning: {named} was started by hand and is not in {POOL}" in again.stderr

        # Its log is under $NSED_HOME/logs as well as on its stderr.
        logged = [json.loads(line) for line in log.read_text().splitlines()]
        assert {"ready", "log_file"} <= {line["event"] for line in logged}
        assert all(line["service"] == "agent_runner" for line in logged)
        assert b'"event":"ready"' in (tmp_path / "stray.stderr").read_bytes()
    finally:
        down = nsed(env, "stack", "down")
        if runner is not None and runner.poll() is None:
            runner.kill()
        stderr.close()
    assert down.returncode == 0, down.stderr
    assert f"stopped 1 runner(s) started by hand: {named}" in down.stderr
    assert runner.wait(timeout=5) == 0  # it stopped on SIGTERM, before down returned
    assert [pid for pid in pids if _alive(pid)] == []
    assert list((home / "runners").glob("*.json")) == []  # every runner removed its entry


@pytest.mark.timeout(120)
def test_up_on_an_address_another_server_holds_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    # Another NATS on the port (another stack, say): the stack's own NATS could not bind,
    # and its services would join that server's streams and agents.
    other = NatsServer(tmp_path / "other").start()
    home = tmp_path / "home"
    env = stack_env(home, other.url)
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    try:
        up = nsed(env, "stack", "up", "--no-demo", "--pool", str(POOL), timeout=60)
    finally:
        if supervisor.pid() is not None:
            nsed(env, "stack", "down")
        other.stop()
    assert up.returncode == 2, up.stdout + up.stderr
    [line] = up.stderr.strip().splitlines()
    assert line.startswith(f"nsed: 127.0.0.1:{other.port} is taken: another NATS server ")
    assert "NSED_NATS_URL" in line
    assert supervisor.pid() is None
    assert not home.joinpath("supervisord.conf").exists()


KEYED = """
[[agents]]
id = "keyed"
model = "keyed-8b"
family = "k"
backend = "openai"
[agents.openai]
base_url = "http://127.0.0.1:9/v1"
model = "keyed-8b"
api_key_env = "NSED_TEST_KEY_NOT_SET"
"""


@pytest.mark.timeout(120)
def test_up_with_a_pool_key_variable_unset_is_one_line_before_anything_starts(
    tmp_path: Path,
) -> None:
    pool = tmp_path / "keyed.toml"
    pool.write_text(KEYED)
    home = tmp_path / "home"
    env = stack_env(home, f"nats://127.0.0.1:{free_port()}")
    env.pop("NSED_TEST_KEY_NOT_SET", None)
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    try:
        # Not after the health wait (90 s): the runner's one line went to its log only.
        up = nsed(env, "stack", "up", "--no-demo", "--pool", str(pool), timeout=30)
    finally:
        if supervisor.pid() is not None:
            nsed(env, "stack", "down")
    assert up.returncode == 2, up.stdout + up.stderr
    assert up.stderr.strip().splitlines() == [
        "nsed: agent keyed: environment variable NSED_TEST_KEY_NOT_SET is not set"
    ]
    assert supervisor.pid() is None
