"""``openai`` agents in all the services against a scripted server: usage and cost in the
result are what the server reported, and broken agents become readable errors while the
deliberation goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client

from schemas.gate import Quality
from schemas.team import AgentCard
from services.stack.natsserver import free_port
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.fakeopenai import FakeOpenAI
from tests.support.inprocess import InProcessServices

AGENT = """
[[agents]]
id = "{id}"
model = "{model}"
family = "{id}"
backend = "openai"
price_in_per_mtok = {price_in}
price_out_per_mtok = {price_out}
max_concurrency = 2
latency_s = 0.1
latency_p95_s = 0.5
[agents.openai]
base_url = "{base_url}"
model = "{model}"
structured_output = "auto"
timeout_s = 5
backoff_s = 0.01
max_backoff_s = 0.05
probe = {probe}
{extra}
"""


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI(slow_s=6.0).start()
    try:
        yield fake
    finally:
        await fake.stop()


def pool(tmp_path: Path, agents: list[dict[str, object]]) -> Path:
    path = tmp_path / "pool.toml"
    # The scripted faults are for the task's calls: no probe call takes one of them first.
    defaults = {"price_in": 1.0, "price_out": 2.0, "extra": "max_retries = 3", "probe": "false"}
    path.write_text("".join(AGENT.format(**{**defaults, **a}) for a in agents))
    return path


async def test_usage_and_cost_in_the_result_are_what_the_server_reported(
    tmp_path: Path, nats_server, nc: Client, server: FakeOpenAI
) -> None:
    server.scripts = {"m-a": ["429", "ok", "500"], "m-b": ["truncated"], "m-c": ["malformed"]}
    agents = [{"id": f"agent-{x}", "model": f"m-{x}", "base_url": server.base_url}
              for x in "abc"]  # fmt: skip
    inproc = InProcessServices(url=nats_server.url, pool=pool(tmp_path, agents))
    try:
        inproc.start_all(agents=("agent-a", "agent-b", "agent-c"))
        await ready(nc, agents=("agent-a", "agent-b", "agent-c"))
        task_id = nsed.new_task_id("oa")
        await nsed.publish_task(nc, nsed.task(task_id, max_rounds=2, min_rounds=2), msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
    finally:
        await inproc.close()
    assert result.status == "completed"
    assert result.simulated is False
    for x in "abc":
        used, said = result.usage[f"agent-{x}"], server.reported[f"m-{x}"]
        assert (used.input_tokens, used.output_tokens, used.calls) == (
            said.input_tokens, said.output_tokens, said.calls,
        )  # fmt: skip
        assert used.calls == 4  # 2 rounds × (proposal + review)
        cost = (said.input_tokens * 1.0 + said.output_tokens * 2.0) / 1e6
        assert used.cost_usd == pytest.approx(cost)
    assert result.total.input_tokens == sum(r.input_tokens for r in server.reported.values())
    assert result.cost_usd == pytest.approx(sum(u.cost_usd for u in result.usage.values()))


async def test_unreachable_wrong_model_and_bad_key_become_readable_errors(
    tmp_path: Path, nats_server, nc: Client, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NSED_TEST_BAD_KEY", "sk-wrong")
    server.scripts = {"ghost": ["404"] * 5, "m-auth": ["401"] * 5}
    down = f"http://127.0.0.1:{free_port()}/v1"
    agents = [
        {"id": "good", "model": "m-good", "base_url": server.base_url},
        {"id": "wrong-model", "model": "ghost", "base_url": server.base_url},
        {"id": "unreachable", "model": "m-down", "base_url": down, "extra": "max_retries = 1"},
        {"id": "bad-key", "model": "m-auth", "base_url": server.base_url,
         "extra": 'api_key_env = "NSED_TEST_BAD_KEY"'},
    ]  # fmt: skip
    inproc = InProcessServices(url=nats_server.url, pool=pool(tmp_path, agents))
    ids = ("good", "wrong-model", "unreachable", "bad-key")
    try:
        inproc.start_all(agents=ids)
        await ready(nc, agents=ids)
        task_id = nsed.new_task_id("oe")
        body = nsed.task(task_id, team_size=4, max_rounds=1)
        await nsed.publish_task(nc, body, msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
    finally:
        await inproc.close()
    errors = {p["agent_id"]: p["error"] for p in await nsed.task_events(nc, task_id, "proposal")
              if p["status"] == "error"}  # fmt: skip
    assert set(errors) == {"wrong-model", "unreachable", "bad-key"}
    assert "model 'ghost' not found at" in errors["wrong-model"]
    assert "cannot reach http://127.0.0.1:" in errors["unreachable"]
    assert "authentication failed" in errors["bad-key"]
    assert "NSED_TEST_BAD_KEY" in errors["bad-key"]
    assert "sk-wrong" not in str(errors)  # the key itself never appears
    # One ok proposal is below quorum: the good agent's answer, marked degraded, with reasons.
    assert result.status == "degraded"
    assert result.stop_reason == "no_quorum"
    assert result.extracted_answer == "42"
    assert "model 'ghost' not found" in result.detail


async def test_a_runner_probes_its_model_before_going_live_and_reports_the_latency(
    tmp_path: Path, nats_server, nc: Client, server: FakeOpenAI
) -> None:
    # Declared 0.1 s; the server answers the probe after 2 s: the card must say so.
    server.slow_s = 2.0
    server.scripts = {"m-p": ["slow"]}
    agents = [{"id": "agent-p", "model": "m-p", "base_url": server.base_url, "probe": "true"}]
    inproc = InProcessServices(url=nats_server.url, pool=pool(tmp_path, agents))
    try:
        inproc.start_agent("agent-p")
        await ready(nc, services=(), agents=("agent-p",))
        kv = await nc.jetstream().key_value("nsed_agents")
        [key] = await kv.keys()
        card = msgspec.json.decode((await kv.get(key)).value, type=AgentCard)
    finally:
        await inproc.close()
    assert len(server.seen("m-p")) == 1  # the probe, before any task
    assert card.latency_s >= 2.0
    assert card.latency_p95_s >= 2.5 * card.latency_s - 1e-6


async def test_template_reviews_do_not_count_and_a_rambling_proposal_is_no_answer(
    tmp_path: Path, nats_server, nc: Client, server: FakeOpenAI
) -> None:
    # m-t proposes well, then reviews by copying the prompt's placeholders; m-r rambles
    # without a final answer, then reviews properly.
    server.scripts = {"m-t": ["ok", "template"], "m-r": ["ramble", "ok"]}
    agents = [{"id": f"agent-{x}", "model": f"m-{x}", "base_url": server.base_url}
              for x in "tgr"]  # fmt: skip
    ids = ("agent-t", "agent-g", "agent-r")
    inproc = InProcessServices(url=nats_server.url, pool=pool(tmp_path, agents))
    try:
        inproc.start_all(agents=ids)
        await ready(nc, agents=ids)
        task_id = nsed.new_task_id("tp")
        await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
    finally:
        await inproc.close()
    proposals = {p["agent_id"]: p for p in await nsed.task_events(nc, task_id, "proposal")}
    assert proposals["agent-r"]["status"] == "no_answer"
    assert proposals["agent-r"]["extracted_answer"] is None  # not the 42 in its text
    ballots = {b["agent_id"]: b for b in await nsed.task_ballots(nc, task_id)}
    assert ballots["agent-t"]["valid"] is False
    assert any("template text: a placeholder" in n for n in ballots["agent-t"]["notes"])
    assert "no claim quotes its candidate" in ballots["agent-t"]["notes"]
    # the rambler read the others and reviewed them: its ballot counts
    assert ballots["agent-r"]["valid"] is True
    assert ballots["agent-g"]["valid"] is True
    assert result.status == "completed"
    assert result.extracted_answer == "42"
    assert result.summaries[0].valid_ballots == 2
    # 3 proposals, 2 with an answer; 3 reviews, 2 valid: in the result, for every round
    assert result.quality == Quality(proposals=3, answered=2, reviews=3, valid_reviews=2)
    assert result.summaries[0].quality == result.quality
