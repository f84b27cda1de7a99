"""What the gateway leaves behind: a client that goes away, or a gateway that stops, ends
its task as ``cancelled`` (with a record of what it cost) instead of leaving it running;
and each request's span is the root of its task's trace, or joins the caller's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from nats.aio.client import Client

from schemas import subjects
from services.gateway.errors import TASK_HEADER
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.gateway import sdk, start_gateway
from tests.support.inprocess import InProcessServices

AGENTS = ("alpha", "bravo", "charlie")
QUESTION = [{"role": "user", "content": "What is 17*23?"}]
SLOW = 400.0  # × the pool's 0.05 s: a proposal takes about 20 s, a task far longer


@pytest.fixture(autouse=True)
def no_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans go to $NSED_HOME/traces only when no collector is configured."""
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


async def slow_council(inproc: InProcessServices, nc: Client) -> str:
    inproc.latency_scale = SLOW
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    return await start_gateway(inproc, AGENTS)


async def test_a_stream_the_client_closes_cancels_its_task(
    inproc: InProcessServices, nc: Client
) -> None:
    url = await slow_council(inproc, nc)
    async with sdk(url) as client:
        chunks = await client.chat.completions.create(model="nsed", messages=QUESTION, stream=True)
        first = await anext(aiter(chunks))  # the stream is open: the team is seated
        await chunks.close()
    task_id = first.id.removeprefix("chatcmpl-")
    result = await nsed.wait_result(nc, task_id, timeout=15)  # long before any proposal
    assert (result.status, result.stop_reason) == ("cancelled", "cancelled")
    assert "the client's request ended" in result.detail


async def test_a_whole_request_the_client_gives_up_on_cancels_its_task(
    inproc: InProcessServices, nc: Client
) -> None:
    url = await slow_council(inproc, nc)
    async with sdk(url, timeout=2.0) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="nsed", messages=QUESTION)
    records = await nc.jetstream().key_value(subjects.DELIBERATIONS_BUCKET)
    (task_id,) = await records.keys()
    result = await nsed.wait_result(nc, task_id, timeout=15)
    assert result.status == "cancelled"


async def test_a_gateway_that_stops_cancels_the_tasks_it_still_serves(
    inproc: InProcessServices, nc: Client
) -> None:
    url = await slow_council(inproc, nc)
    async with sdk(url) as client:
        chunks = await client.chat.completions.create(model="nsed", messages=QUESTION, stream=True)
        first = await anext(aiter(chunks))
        await inproc.stop("gateway")  # its grace period (3 s) runs out mid-deliberation
        with pytest.raises((openai.APIError, openai.APIConnectionError)):
            async for _ in chunks:
                pass
    result = await nsed.wait_result(nc, first.id.removeprefix("chatcmpl-"), timeout=15)
    assert result.status == "cancelled"


def spans(home: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((Path(home) / "traces").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.parametrize("caller", [False, True], ids=["root", "joins-caller"])
async def test_the_requests_span_is_the_root_of_its_tasks_trace(
    inproc: InProcessServices, nc: Client, caller: bool
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"} if caller else {}
    async with sdk(url) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="nsed", messages=QUESTION, extra_headers=headers
        )
    task_id = raw.headers[TASK_HEADER]
    result = await nsed.wait_result(nc, task_id)
    await inproc.close()  # every service flushes its spans as it stops
    written = spans(inproc.home)
    (request,) = [s for s in written if s["attributes"].get("nsed.task_id") == task_id
                  and s["service"] == "nsed-gateway"]  # fmt: skip
    (root,) = [s for s in written if s["name"] == f"deliberation {task_id}"]
    assert request["kind"] == "server"
    assert request["trace_id"] == root["trace_id"] == result.trace_id
    assert root["parent_id"] == request["span_id"]  # the deliberation under the request
    if caller:
        assert (request["trace_id"], request["parent_id"]) == (trace_id, parent)
    else:
        assert request["parent_id"] is None
    assert raw.parse().model_extra["nsed"]["trace_id"] == result.trace_id  # type: ignore[index]
