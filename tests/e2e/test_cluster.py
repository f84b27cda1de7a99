"""A three-node NATS cluster under ``nsed stack up --cluster 3``: a command told one node
finds the others while that one is down, and ``down`` leaves no process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.stack.natsserver import free_ports
from services.stack.supervisor import StackPaths, Supervisor
from tests.support.inprocess import POOL
from tests.support.processes import ROOT


def run(env: dict[str, str], *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _nats_servers_of(home: Path) -> list[int]:
    """Every live process whose environment gives it a NATS store under ``home``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = any(v.startswith(f"NSED_NATS_STORE={home}/".encode()) for v in environ)
        if ours and proc.name.isdigit() and _alive(int(proc.name)):
            found.append(int(proc.name))
    return found


@pytest.mark.timeout(300)
def test_stack_up_cluster_3_runs_three_nodes_survives_one_down_and_down_leaves_none(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    urls = [f"nats://127.0.0.1:{port}" for port in free_ports(3)]
    env = {**os.environ, "NSED_HOME": str(home), "NSED_NATS_URL": ",".join(urls)}
    one_node = {**env, "NSED_NATS_URL": urls[0]}  # what later commands may be told
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    pids: list[int] = []
    try:
        up = run(env, "stack", "up", "--cluster", "3", "--no-demo", "--pool", str(POOL))
        assert up.returncode == 0, up.stdout + up.stderr
        assert "Traceback" not in up.stderr
        nodes = {p["name"]: p["pid"] for p in supervisor.processes() if "nats" in p["name"]}
        assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
        pids = list(nodes.values())
        assert len(_nats_servers_of(home)) == 3

        status = run(one_node, "stack", "status")
        assert status.returncode == 0, status.stderr
        assert f"NATS cluster of 3 nodes: {', '.join(urls)}" in status.stdout
        assert all(f"│ {name}" in status.stdout for name in nodes)

        # Told only node 1 while node 1 is down, a command finds the other two.
        supervisor.stop_program("nats-1")
        submit = run(one_node, "submit", "What is 17*23?", "--answer", "391", "--json")
        assert submit.returncode == 0, submit.stdout + submit.stderr
        result = json.loads(submit.stdout)
        assert result["extracted_answer"] == "391"
    finally:
        down = run(env, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert "every process of the stack has exited" in down.stderr
    assert [pid for pid in pids if _alive(pid)] == []
    assert _nats_servers_of(home) == []
    assert not (home / "nats.json").exists()
