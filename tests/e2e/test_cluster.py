"""A three-node NATS cluster: every stream and bucket has 3 replicas, a node killed with
``kill -9`` mid-run (and left down) loses no task and repeats none, and under
``nsed stack up --cluster 3`` a command told one node finds the others while that one is
down, and ``down`` leaves no process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client

from services._runtime.topology import ensure_topology
from services.stack import health
from services.stack.natsserver import NatsCluster, free_ports
from services.stack.supervisor import StackPaths, Supervisor
from tests.support import nsed
from tests.support.inprocess import POOL
from tests.support.processes import ROOT, SERVICES, ProcessStack
from tests.support.wait import until

STREAMS = {
    "NSED_TASKS", "NSED_WORK", "NSED_EVENTS", "NSED_RESULTS", "NSED_DLQ", "NSED_TIMERS",
    "KV_nsed_agents", "KV_nsed_deliberations", "KV_nsed_references", "KV_nsed_telemetry",
}  # fmt: skip
AGENTS = ("alpha", "bravo", "charlie", "delta")
TASKS = 30


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "cluster").start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def processes(cluster: NatsCluster, tmp_path: Path) -> AsyncIterator[ProcessStack]:
    # As `nsed stack up` waits for the cluster before the services: on a loaded machine the
    # nodes may take longer to elect their leaders than a service waits at its start.
    nc = await nsed.connect(cluster.url)
    try:
        await ensure_topology(nc.jetstream(), replicas=3, timeout=90)
    finally:
        await nc.close()
    stack = ProcessStack(
        url=cluster.url,  # every node's URL, as the stack gives them
        pool=POOL,
        logs=tmp_path / "logs",
        # ~0.15 s per model call: the tasks are still running when the node dies.
        env={"NSED_STREAM_REPLICAS": "3", "NSED_AGENT_RUNNER_LATENCY_SCALE": "3"},
    )
    stack.start_all(AGENTS)
    try:
        yield stack
    finally:
        stack.stop_all()


@pytest.mark.timeout(180)
async def test_a_node_killed_mid_run_and_left_down_loses_no_task_and_repeats_none(
    cluster: NatsCluster, processes: ProcessStack
) -> None:
    victim = await _records_leader(cluster.url, processes)
    # The test listens through a node that stays up: a plain subscriber whose own server
    # dies misses what is published while it reconnects (core NATS delivers at most once).
    survivor = next(node for node in cluster.nodes if node.name != victim)
    nc = await nsed.connect(survivor.url)
    try:
        inbox = await nsed.ResultInbox.open(nc)
        ids = [nsed.new_task_id("cluster") for _ in range(TASKS)]
        await asyncio.gather(
            *(nsed.publish_task(nc, nsed.task(t, max_rounds=3, min_rounds=2), msg_id=t)
              for t in ids)
        )  # fmt: skip
        await until(lambda: sum(map(inbox.count, ids)) >= TASKS // 4, timeout=60,
                    what="a quarter of the results")  # fmt: skip
        cluster.servers[victim].kill9()
        pending = [t for t in ids if not inbox.count(t)]
        assert len(pending) >= TASKS // 2, "the kill should land while most tasks run"

        results = [await inbox.result(t, timeout=120) for t in ids]
        lost = [(r.task_id, r.detail) for r in results if any(s.degraded for s in r.summaries)]
        assert lost == []
        assert {r.status for r in results if r.stop_reason != "no_consensus"} == {"completed"}
        await until(lambda: _idle(nc), timeout=60, every=0.2, what="the stack to be idle")
        await inbox.settle()
        assert [inbox.count(t) for t in ids] == [1] * TASKS
        for result in results:
            assert await nsed.stored_result(nc, result.task_id) == result
    finally:
        await nc.close()


async def _records_leader(url: str, processes: ProcessStack) -> str:
    """Once the stack is up with every stream at 3 replicas: the node that leads the record
    store. Every phase transition is a compare-and-set there, so its loss forces an
    election in the middle of the work."""
    nc = await nsed.connect(url)
    try:
        try:
            await until(lambda: _healthy(nc), timeout=60, what="the stack to be healthy")
        except AssertionError as exc:
            exited = [n for n in processes.procs if not processes.alive(n)]
            tails = "\n".join(f"--- {n}\n{processes.log_tail(n, 15)}" for n in exited)
            raise AssertionError(f"{exc}; exited: {exited}\n{tails}") from exc
        js = nc.jetstream(timeout=5)
        replicas = {i.config.name: i.config.num_replicas for i in await js.streams_info()}
        assert replicas == dict.fromkeys(STREAMS, 3)
        records = (await js.stream_info("KV_nsed_deliberations")).cluster
        assert records is not None
        assert records.leader is not None
        return records.leader
    finally:
        await nc.close()


async def _healthy(nc: Client) -> bool:
    found = await health.discover(nc, wait=0.15)
    return all(found.get(s) for s in SERVICES) and set(AGENTS) <= await health.live_agent_ids(nc)


async def _idle(nc: Client) -> bool:
    """``nsed.idle``; not yet while a group that lost its leader elects another."""
    try:
        return await nsed.idle(nc)
    except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError):
        return False


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
