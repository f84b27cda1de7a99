"""One OpenTelemetry trace across the whole recurrence (§9), exported over OTLP/HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from nats.aio.client import Client

from services.stack import health
from tests.support import nsed
from tests.support.inprocess import POOL
from tests.support.natsserver import NatsServer
from tests.support.otlp import OtlpReceiver
from tests.support.processes import SERVICES, ProcessStack
from tests.support.wait import until

AGENTS = ("alpha", "bravo", "charlie")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def traced(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Client, OtlpReceiver]]:
    receiver = await OtlpReceiver().start()
    server = NatsServer(tmp_path_factory.mktemp("traced") / "nats").start()
    stack = ProcessStack(
        url=server.url, pool=POOL, logs=tmp_path_factory.mktemp("traced-logs"),
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
             "NSED_AGENT_RUNNER_LATENCY_SCALE": "2"},
    )  # fmt: skip
    stack.start_all(AGENTS)
    nc = await nsed.connect(server.url)
    try:

        async def healthy() -> bool:
            found = await health.discover(nc, wait=0.15)
            return all(found.get(s) for s in SERVICES) and set(
                AGENTS
            ) <= await health.live_agent_ids(nc)

        await until(healthy, timeout=60, what="the traced stack")
        yield nc, receiver
    finally:
        await nc.close()
        stack.stop_all()
        server.stop()
        await receiver.stop()


pytestmark = pytest.mark.asyncio(loop_scope="module")


def of_trace(receiver: OtlpReceiver, trace_id: str) -> list[dict[str, Any]]:
    return [s for s in receiver.spans if s["trace_id"] == trace_id]


async def run_task(nc: Client, receiver: OtlpReceiver, headers: dict[str, str] | None = None):
    task_id = nsed.new_task_id("traced")
    body = nsed.task(task_id, min_rounds=3, max_rounds=3)
    await nc.jetstream().publish("nsed.tasks", json.dumps(body).encode(),
                                 headers={"Nats-Msg-Id": task_id, **(headers or {})})  # fmt: skip
    result = await nsed.wait_result(nc, task_id)
    assert result.trace_id is not None

    def complete() -> bool:
        names = {s["name"] for s in of_trace(receiver, result.trace_id)}
        return {f"deliberation {task_id}", "round 1", "round 2", "round 3"} <= names

    await until(complete, timeout=30, what="the root and round spans")
    return task_id, result


@pytest.mark.timeout(180)
async def test_a_three_round_task_is_one_trace_across_all_five_services(traced) -> None:
    nc, receiver = traced
    task_id, result = await run_task(nc, receiver)

    def settled() -> bool:
        names = [s["name"] for s in of_trace(receiver, result.trace_id)]
        chats = sum(n.startswith("chat ") for n in names)
        return chats >= 18 and names.count("tally") >= 3 and names.count("gate") >= 3

    # Each process exports in its own batches: wait until every service's last one is in.
    await until(settled, timeout=30, what="the spans of every service")
    spans = of_trace(receiver, result.trace_id)
    by_id = {s["span_id"]: s for s in spans}
    assert {s["service"] for s in spans} >= {
        "nsed-broker", "nsed-agent_runner", "nsed-reviewer", "nsed-voter", "nsed-gate",
    }  # fmt: skip
    # Every span of the task is in this trace, and no span points at a parent it lacks.
    tagged = [s for s in receiver.spans if s["attributes"].get("nsed.task_id") == task_id]
    assert {s["trace_id"] for s in tagged} == {result.trace_id}
    orphans = [s["name"] for s in spans if s["parent_id"] and s["parent_id"] not in by_id]
    assert orphans == []
    [root] = [s for s in spans if s["name"] == f"deliberation {task_id}"]
    assert root["parent_id"] is None
    rounds = {s["name"]: s for s in spans if s["name"].startswith("round ")}
    assert sorted(rounds) == ["round 1", "round 2", "round 3"]
    assert all(s["parent_id"] == root["span_id"] for s in rounds.values())
    assert by_id[next(s for s in spans if s["name"] == "intake")["parent_id"]] is root
    # Model calls carry the GenAI conventions and their cost.
    calls = [s for s in spans if s["name"].startswith("chat ")]
    assert len(calls) == 3 * 3 * 2  # 3 agents × 3 rounds × (propose + review)
    for call in calls:
        attrs = call["attributes"]
        assert attrs["gen_ai.request.model"]
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert "nsed.cost_usd" in attrs
        assert by_id[call["parent_id"]]["name"].split()[0] in ("propose", "review")
    tallies = [s for s in spans if s["name"] == "tally"]
    assert len(tallies) == 3
    assert all(
        t["attributes"]["nsed.winner"] and t["attributes"]["nsed.winner_agent"] for t in tallies
    )
    assert all(len(t["attributes"]["nsed.scores"]) == 3 for t in tallies)
    gates = [s for s in spans if s["name"] == "gate"]
    assert [g["attributes"]["nsed.decision"] for g in gates].count("continue") == 2
    assert all("nsed.state_tokens" in g["attributes"] for g in gates)
    # Service steps hang under their round; consumers link to the producers' spans.
    steps = [s for s in spans if s["name"] in ("propose alpha", "tally", "gate", "count ballot")]
    assert all(by_id[s["parent_id"]]["name"].startswith("round ") for s in steps)
    assert any(s["links"] for s in spans if s["name"] == "gather proposal")


@pytest.mark.timeout(120)
async def test_a_task_with_a_client_traceparent_joins_the_clients_trace(traced) -> None:
    nc, receiver = traced
    client_trace, client_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{client_trace}-{client_span}-01"}
    task_id, result = await run_task(nc, receiver, headers)
    assert result.trace_id == client_trace
    [root] = [s for s in of_trace(receiver, client_trace) if s["name"] == f"deliberation {task_id}"]
    assert root["parent_id"] == client_span
