"""A runner whose backend fails reports itself unhealthy and is not seated: at start (its
probe fails) until its backend answers again, and mid-task (its calls fail), when the
broker re-selects the next round's team without it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from nats.aio.client import Client

from services.stack import health
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.fakeopenai import FakeOpenAI
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

AGENT = """
[[agents]]
id = "{id}"
model = "m-{id}"
family = "{id}"
backend = "openai"
max_concurrency = 2
latency_s = 0.1
latency_p95_s = 0.5
[agents.domains.default]
p_g = {p_g}
p_v = 0.8
[agents.openai]
base_url = "{base_url}"
model = "m-{id}"
timeout_s = 5
max_retries = 0
probe = {probe}
"""
# Fails at once (no retries), one failed call is enough, probes again within a second.
HEALTH = {"unhealthy_after": 1, "reprobe_first_s": 0.2, "reprobe_max_s": 0.5}
SERVICES = ("broker", "reviewer", "voter", "gate")


@dataclass
class BreakableOpenAI(FakeOpenAI):
    """The scripted server, where a model can be down (HTTP 500) for as long as a test
    says: from the start (``down``) or after it answered some requests (``down_after``)."""

    down: set[str] = field(default_factory=set)
    down_after: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = body.get("model", "")
        if model in self.down_after and self.answered.get(model, 0) >= self.down_after[model]:
            self.down.add(model)
        if model in self.down:
            self.requests.append(body)
            return web.json_response({"error": {"message": "backend down"}}, status=500)
        self.answered[model] = self.answered.get(model, 0) + 1
        return await super()._chat(request)


@pytest.fixture
async def server() -> AsyncIterator[BreakableOpenAI]:
    fake = await BreakableOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


def start(inproc: InProcessServices, agents: tuple[str, ...]) -> None:
    for name in SERVICES:
        inproc.start_service(name)
    for agent in agents:
        inproc.start_agent(agent, **HEALTH)


def pool(tmp_path: Path, url: str, agents: dict[str, float], probe: bool) -> Path:
    path = tmp_path / "pool.toml"
    path.write_text("".join(
        AGENT.format(id=a, p_g=p_g, base_url=url, probe=str(probe).lower())
        for a, p_g in agents.items()
    ))  # fmt: skip
    return path


async def seated(nc: Client, task_id: str) -> list[list[str]]:
    """Each TeamSelected of the task, in order: its members."""
    teams = await nsed.task_events(nc, task_id, "team")
    return [sorted(s["agent_id"] for s in team["seats"]) for team in teams]


async def test_an_agent_whose_probe_fails_is_not_seated_until_its_backend_answers(
    tmp_path: Path, nats_server, nc: Client, server: BreakableOpenAI
) -> None:
    server.down = {"m-x"}
    agents = {"a": 0.8, "b": 0.8, "x": 0.9}  # x would be the first choice
    inproc = InProcessServices(
        url=nats_server.url, pool=pool(tmp_path, server.base_url, agents, probe=True),
        home=str(tmp_path / "home"),
    )  # fmt: skip
    try:
        start(inproc, tuple(agents))
        await ready(nc, agents=("a", "b"))
        sick = await until(lambda: health.unhealthy_agents(nc), what="x's unhealthy card")
        assert list(sick) == ["x"]
        assert sick["x"].startswith("probe failed: ")
        assert "HTTP 500" in sick["x"]
        first = nsed.new_task_id("sick")
        await nsed.publish_task(nc, nsed.task(first, team_size=3, max_rounds=1), msg_id=first)
        assert (await nsed.wait_result(nc, first)).status == "completed"
        assert await seated(nc, first) == [["a", "b"]]

        server.down.clear()
        await until(lambda: _live(nc, "x"), timeout=15, what="x healthy again")
        again = nsed.new_task_id("well")
        await nsed.publish_task(nc, nsed.task(again, team_size=3, max_rounds=1), msg_id=again)
        assert (await nsed.wait_result(nc, again)).status == "completed"
        assert await seated(nc, again) == [["a", "b", "x"]]
    finally:
        await inproc.close()


async def test_a_member_whose_endpoint_goes_down_mid_task_is_replaced_in_the_next_round(
    tmp_path: Path, nats_server, nc: Client, server: BreakableOpenAI
) -> None:
    server.down_after = {"m-a": 1}  # a proposes in round 1, then its endpoint is down
    agents = {"a": 0.85, "b": 0.8, "c": 0.8, "spare": 0.3}
    inproc = InProcessServices(
        url=nats_server.url, pool=pool(tmp_path, server.base_url, agents, probe=False),
        home=str(tmp_path / "home"),
    )  # fmt: skip
    try:
        start(inproc, tuple(agents))
        await ready(nc, agents=tuple(agents))
        task_id = nsed.new_task_id("mid")
        body = nsed.task(task_id, team_size=3, max_rounds=2, min_rounds=2)
        await nsed.publish_task(nc, body, msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
        sick = await health.unhealthy_agents(nc)
    finally:
        await inproc.close()
    assert await seated(nc, task_id) == [["a", "b", "c"], ["b", "c", "spare"]]
    assert result.rounds == 2
    assert {s.agent_id for s in result.team} == {"b", "c", "spare"}
    assert sick["a"].startswith("a call failed: ")


async def _live(nc: Client, agent: str) -> bool:
    return agent in await health.live_agent_ids(nc)
