"""The gateway against the official ``openai`` SDK: a real nats-server, the services and
simulated agents in-process, the gateway on a free loopback port, and the SDK's own
client (``AsyncOpenAI``: the services share the test's event loop) speaking to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from nats.aio.client import Client
from openai import AsyncOpenAI

from services.cli import client as cli
from services.gateway.conversation import MODELS
from services.stack import health
from tests.integration.conftest import ready
from tests.support.gateway import sdk, start_gateway
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

AGENTS = ("alpha", "bravo", "charlie")
QUESTION = [{"role": "user", "content": "What is 17*23?"}]


@pytest.fixture
async def council(inproc: InProcessServices, nc: Client) -> AsyncIterator[AsyncOpenAI]:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    async with sdk(await start_gateway(inproc, AGENTS)) as client:
        yield client


async def test_models_are_the_default_policy_and_one_per_protocol_with_the_pool(
    council: AsyncOpenAI,
) -> None:
    models = await council.models.list()
    assert [m.id for m in models.data] == ["nsed", "nsed-vote", "nsed-moa", "nsed-debate"]
    assert [m.id for m in models.data] == list(MODELS)
    for model in models.data:
        info = model.model_extra["nsed"]  # type: ignore[index]
        assert info["protocol"] == MODELS[model.id]
        assert sorted(a["id"] for a in info["agents"]) == sorted(AGENTS)


async def test_a_completion_answers_with_the_councils_winner_and_its_record(
    council: AsyncOpenAI, nc: Client
) -> None:
    reply = await council.chat.completions.create(
        model="nsed",
        messages=QUESTION,
        extra_body={"nsed": {"max_rounds": 2, "team_size": 3}},
    )
    info = reply.model_extra["nsed"]  # type: ignore[index]
    stored = await cli.stored_result(nc, info["task_id"])
    assert stored is not None
    assert reply.choices[0].message.content == stored.answer
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == stored.total.input_tokens > 0
    assert reply.usage.completion_tokens == stored.total.output_tokens > 0
    assert (info["rounds"], info["status"], info["cost_usd"]) == (
        stored.rounds,
        stored.status,
        stored.cost_usd,
    )
    assert 1 <= info["rounds"] <= 2  # the nsed object's policy reached the task
    assert info["trace_id"] == stored.trace_id
    assert info["url"].endswith(f"/deliberations/{info['task_id']}")


async def test_a_stream_sends_each_round_as_reasoning_then_the_answer(
    council: AsyncOpenAI, nc: Client
) -> None:
    chunks = [
        chunk
        async for chunk in await council.chat.completions.create(
            model="nsed",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"nsed": {"min_rounds": 2, "max_rounds": 2}},
        )
    ]
    kinds = [_kind(chunk) for chunk in chunks]
    # A role, the rounds as reasoning, the answer, the finish, the usage: in that order.
    assert kinds[0] == "role"
    first_content = kinds.index("content")
    assert set(kinds[1:first_content]) == {"reasoning"}
    assert kinds[first_content:] == ["content", "finish", "usage"]
    reasoning = "".join(
        c.choices[0].delta.model_extra["reasoning_content"]  # type: ignore[index]
        for c, kind in zip(chunks, kinds, strict=True)
        if kind == "reasoning"
    )
    info = chunks[-2].model_extra["nsed"]  # type: ignore[index]
    stored = await cli.stored_result(nc, info["task_id"])
    assert stored is not None
    assert stored.rounds == 2
    for number in (1, 2):
        assert f"round {number}: winner" in reasoning
    assert "round 1: continue → round 2" in reasoning
    assert chunks[first_content].choices[0].delta.content == stored.answer
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == stored.total.input_tokens + stored.total.output_tokens


def _kind(chunk: Any) -> str:
    if not chunk.choices:
        return "usage"
    choice = chunk.choices[0]
    if choice.finish_reason is not None:
        return "finish"
    delta = choice.delta
    if delta.role == "assistant":
        return "role"
    if (delta.model_extra or {}).get("reasoning_content"):
        return "reasoning"
    return "content" if delta.content else "empty"


async def test_the_stream_on_the_wire_is_openais_event_format(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    body = {"model": "nsed-vote", "stream": True, "messages": QUESTION}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/chat/completions", json=body) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = (await response.read()).decode()
    # Events separated by one blank line, "\n" only (clients split on "\n\n"), and the end.
    assert "\r" not in raw
    events = [event for event in raw.split("\n\n") if event]
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1


async def test_replicas_share_nothing_but_nats_and_each_answers(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    urls = [await start_gateway(inproc, AGENTS, name=f"gateway-{n}") for n in range(2)]
    await until(lambda: _replicas(nc), what="two gateways answering discovery")
    for url in urls:
        async with sdk(url) as client:
            reply = await client.chat.completions.create(model="nsed-vote", messages=QUESTION)
        stored = await cli.stored_result(nc, reply.model_extra["nsed"]["task_id"])  # type: ignore[index]
        assert stored is not None
        assert reply.choices[0].message.content == stored.answer


async def _replicas(nc: Client) -> bool:
    return (await health.discover(nc, wait=0.2)).get("gateway") == 2
