"""The runner's one line per message carries its model call's tokens and cost, as the
services log them (JSON lines on stderr)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from tests.integration.conftest import logged_task
from tests.support.inprocess import InProcessServices


async def test_each_model_calls_handled_line_carries_its_tokens_and_cost(
    inproc: InProcessServices, nc: Client, capfd: pytest.CaptureFixture[str]
) -> None:
    task_id, result, lines = await logged_task(inproc, nc, capfd, "tokens")
    calls = [
        line
        for line in lines
        if line.get("event") == "handled"
        and line.get("task_id") == task_id
        and line.get("route", "").startswith("agent-")
    ]
    assert len(calls) == 6  # 3 proposals and 3 reviews
    by_agent: dict[str, float] = {}
    for line in calls:
        assert line["input_tokens"] > 0
        assert line["output_tokens"] > 0
        by_agent[line["agent_id"]] = by_agent.get(line["agent_id"], 0.0) + line["cost_usd"]
    for agent, usage in result.usage.items():
        assert by_agent[agent] == pytest.approx(usage.cost_usd)
