"""Any number of replicas of each service: two of everything (broker, reviewer, voter, gate,
two runners per agent) under 100 concurrent tasks, every replica doing some of the work,
and every task received exactly once by a plain subscriber, equal to its record's result,
none degraded by lost work. Then the same two of everything through a restart of NATS."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer, kill9, restart
from tests.support.wait import until

AGENTS = ("alpha", "bravo", "charlie", "delta")
SERVICE_ROUTES = ("broker-tasks", "reviewer-proposals", "voter-reviews", "gate-tallies")
ROUTES = (*SERVICE_ROUTES, *(f"agent-{a}" for a in AGENTS))


async def test_two_replicas_of_every_service_answer_a_hundred_tasks_each_exactly_once(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all(agents=AGENTS, replicas=2)
    await ready(nc, agents=AGENTS)
    ids = [nsed.new_task_id("r") for _ in range(100)]
    await asyncio.gather(
        *(nsed.publish_task(nc, nsed.task(t, max_rounds=3, min_rounds=2), msg_id=t) for t in ids)
    )
    results = await inbox.results(ids, timeout=90)
    await inproc.close()  # every replica drained: anything they published has been sent
    await inbox.settle()

    # Nothing lost: no seat timed out, no ballot went missing, no round fell below quorum.
    # (A task may still end without a consensus: that is the council's verdict, not loss.)
    lost = [(r.task_id, r.detail) for r in results if any(s.degraded for s in r.summaries)]
    assert lost == []
    assert {r.status for r in results if r.stop_reason != "no_consensus"} == {"completed"}
    assert [inbox.count(t) for t in ids] == [1] * len(ids)
    for result in results:
        assert await nsed.stored_result(nc, result.task_id) == result
    for service in ("broker", "reviewer", "voter", "gate", "agent_runner"):
        assert await nsed.dead_letters(nc, service) == [], service
    # Both replicas of each service took part, and both runners of every agent seated.
    at_work = _replicas_at_work(Path(inproc.home))
    assert {r: at_work.get(r) for r in SERVICE_ROUTES} == dict.fromkeys(SERVICE_ROUTES, 2)
    runners = {r: n for r, n in at_work.items() if r.startswith("agent-")}
    assert len(runners) >= 3, runners  # teams of three
    assert set(runners.values()) == {2}, runners


async def test_two_replicas_of_every_service_ride_out_a_nats_restart_mid_run(
    inproc: InProcessServices,
    nc: Client,
    nats_server: NatsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox = await nsed.ResultInbox.held(nats_server.url)
    try:
        inproc.latency_scale = 6  # ~0.3 s a model call: tasks are mid-run at the kill
        inproc.start_all(agents=AGENTS, replicas=2)
        await ready(nc, agents=AGENTS)
        ids = [nsed.new_task_id("rr") for _ in range(30)]
        await asyncio.gather(
            *(nsed.publish_task(nc, nsed.task(t, max_rounds=3, min_rounds=1 + i % 3), msg_id=t)
              for i, t in enumerate(ids))
        )  # fmt: skip
        await until(lambda: inbox.received, timeout=60, what="a first result")
        assert len(inbox.received) < len(ids) // 2, "the kill should land mid-run"
        kill9(nats_server)
        restart(nats_server)
        results = [await nsed.wait_result(nc, t, timeout=90) for t in ids]
        await until(lambda: nsed.idle(nc), timeout=60, every=0.2, what="the services to be idle")
        await inbox.settle()
        stored = await nsed.stored_results(nc, set(ids))
    finally:
        await inbox.close()

    subscribed = [t for t in ids if inbox.must_have(stored[t][0].metadata.timestamp.timestamp())]
    assert {t: len(m) for t, m in stored.items()} == dict.fromkeys(ids, 1)
    assert [inbox.count(t) for t in subscribed] == [1] * len(subscribed)
    assert max(inbox.count(t) for t in ids) == 1
    assert [r.task_id for r in results if any(s.degraded for s in r.summaries)] == []
    assert {r.status for r in results if r.stop_reason != "no_consensus"} == {"completed"}
    assert inproc.failures() == []
    # The services' log lines (JSON on stderr): a warning or two, no error, no traceback.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [
        (e["event"], e.get("error")) for e in lines if e["level"] not in ("info", "warning")
    ] == []


def _replicas_at_work(home: Path) -> dict[str, int]:
    """How many processes handled messages of each route, from their span files (one file
    per process, one consumer span per handled message)."""
    processes: collections.Counter[str] = collections.Counter()
    for path in (home / "traces").glob("*.jsonl"):
        spans = [json.loads(line) for line in path.read_text().splitlines()]
        handled = {s["attributes"].get("messaging.consumer.group.name") for s in spans}
        processes.update(handled & set(ROUTES))
    return dict(processes)
