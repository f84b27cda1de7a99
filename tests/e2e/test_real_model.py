"""Against a real OpenAI-compatible server: llama-cpp-python serving a tiny random-weight
Llama model. Three ``openai`` agents deliberate on it through all the services. Random
weights state no answer of their own accord, so the pool holds their proposals to the
answer grammar (``answer_grammar``); reviews are held to the review schema by the server
(quotes drawn from the candidates), so proposals, reviews, ballots and the tally all run
for real, and the ballots validate under the rules real models are held to."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.tinyllama import llama_server, write_tiny_llama

AGENT = """
[[agents]]
id = "{id}"
model = "tiny-llama-{id}"
family = "{id}"
backend = "openai"
max_concurrency = 1
context_window = 16384
latency_s = 2.0
latency_p95_s = 10.0
[agents.openai]
base_url = "{base_url}"
model = "tiny"
structured_output = "auto"
temperature = 0.8
max_tokens = 96
review_max_tokens = 2000
timeout_s = 120
answer_grammar = true
"""


@pytest.mark.timeout(300)
async def test_three_openai_agents_deliberate_on_a_real_llama_cpp_server(
    tmp_path: Path, nats_server, nc: Client
) -> None:
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    with llama_server(model, tmp_path / "llama.log") as base_url:
        pool = tmp_path / "pool.toml"
        ids = ("tiny-a", "tiny-b", "tiny-c")
        pool.write_text("".join(AGENT.format(id=i, base_url=base_url) for i in ids))
        inproc = InProcessServices(url=nats_server.url, pool=pool)
        try:
            inproc.start_all(agents=ids)
            await ready(nc, agents=ids)
            task_id = nsed.new_task_id("llama")
            body = nsed.task(task_id, max_rounds=1, phase_timeout_s=120.0, deadline_s=240.0)
            await nsed.publish_task(nc, body, msg_id=task_id)
            result = await nsed.wait_result(nc, task_id, timeout=240)
        finally:
            await inproc.close()
    assert result.simulated is False
    assert result.rounds == 1
    [summary] = result.summaries
    assert summary.ok_proposals == 3, result.detail
    ballots = await nsed.task_ballots(nc, task_id)
    assert len([b for b in ballots if b["valid"]]) >= 2, [b["notes"] for b in ballots]
    # The server held every quote to its candidate's own pieces.
    assert all(b["ungrounded_quotes"] == 0 for b in ballots), [b["notes"] for b in ballots]
    assert result.quality.answered == result.quality.proposals == 3
    assert result.quality.valid_reviews == len([b for b in ballots if b["valid"]])
    # Random weights often tie or abstain (quorum counts preferences), so the quorum is
    # left to chance here; the tests with scripted servers check it.
    assert result.status in ("completed", "degraded")
    assert result.answer is not None
    # Usage is what the server reported: every agent made one proposal and one review.
    assert {agent: u.calls for agent, u in result.usage.items()} == dict.fromkeys(ids, 2)
    assert all(u.input_tokens > 500 and u.output_tokens > 0 for u in result.usage.values())
