"""The CP-SAT broker with real runners: members replaced mid-deliberation, stats
steering selection, and the selection on the record."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

STATS_POOL = Path(__file__).resolve().parents[1] / "data" / "stats_pool.toml"


async def test_a_member_stopped_mid_deliberation_is_replaced_in_the_next_round(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.latency_scale = 10.0  # ~0.5 s per call
    inproc.start_all(agents=("alpha", "bravo", "charlie", "delta"))
    await ready(nc, agents=("alpha", "bravo", "charlie", "delta"))
    task_id = nsed.new_task_id()
    body = nsed.task(task_id, min_rounds=3, max_rounds=3, phase_timeout_s=3.0)
    await nsed.publish_task(nc, body, msg_id=task_id)
    [team] = await until(lambda: nsed.task_events(nc, task_id, "team", wait=0.1), what="team")
    first = [s["agent_id"] for s in team["seats"]]
    assert "delta" not in first  # the weakest agent sits out while the others are live
    leaving = first[-1]
    await inproc.stop(f"agent-{leaving}")
    result = await nsed.wait_result(nc, task_id, timeout=60)
    assert result.rounds == 3
    assert result.answer is not None
    later = [t for t in await nsed.task_events(nc, task_id, "team") if t["round"] > 1]
    assert later, "the broker re-selected the team for a later round"
    replacement = [s["agent_id"] for s in later[0]["seats"]]
    assert leaving not in replacement
    assert "delta" in replacement
    survivors = {s["seat"]: s["agent_id"] for s in team["seats"] if s["agent_id"] != leaving}
    assert all(replacement[seat] == agent for seat, agent in survivors.items())
    assert result.selection is not None
    assert result.selection.solver_status == "OPTIMAL"
    assert leaving not in [s.agent_id for s in result.team]


async def test_telemetry_favours_a_better_agent_and_drops_a_failing_one(
    nats_server, nc: Client
) -> None:
    inproc = InProcessServices(url=nats_server.url, pool=STATS_POOL)
    agents = ("sharp", "flaky", "plain1", "plain2")
    try:
        inproc.start_all(agents=agents)
        await ready(nc, agents=agents)
        picks: list[list[str]] = []
        for batch in range(10):
            ids = [nsed.new_task_id(f"tm{batch}") for _ in range(5)]
            for task_id in ids:
                body = nsed.task(task_id, team_size=2, max_rounds=2, min_rounds=2,
                                 phase_timeout_s=5.0)  # fmt: skip
                await nsed.publish_task(nc, body, msg_id=task_id)
            results = await asyncio.gather(*(nsed.wait_result(nc, t) for t in ids))
            picks.extend([s.agent_id for s in r.team] for r in results)
            await asyncio.sleep(0.3)  # let the broker's stats watch catch up
        early, late = picks[:10], picks[-10:]

        def count(agent: str, tasks: list[list[str]]) -> int:
            return sum(agent in team for team in tasks)

        assert count("sharp", late) > count("sharp", early), picks
        assert count("flaky", late) < count("flaky", early), picks
    finally:
        await inproc.close()
