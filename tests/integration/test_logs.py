"""The runner's one line per message carries its model call's tokens and cost, as the
services log them (JSON lines on stderr)."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client

from services._runtime.logging import configure_logging
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices


async def test_each_model_calls_handled_line_carries_its_tokens_and_cost(
    inproc: InProcessServices, nc: Client, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("tests", "info", json=True)
    try:
        inproc.start_all()
        await ready(nc, agents=("alpha", "bravo", "charlie"))
        task_id = nsed.new_task_id("tokens")
        await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
    finally:
        configure_logging("tests", "warning", json=True)
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
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
