"""Every protocol, one task each, through the same services on a real NATS: the rounds it
runs, the calls it pays per agent, and the exact team it was given."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices

TEAM = ["alpha", "bravo", "charlie"]
CASES: dict[str, dict[str, Any]] = {
    "nsed": {"protocol": "nsed", "max_rounds": 2, "min_rounds": 2, "team": TEAM},
    "vote": {"protocol": "vote", "team": TEAM},
    "debate": {"protocol": "debate", "max_rounds": 2, "min_rounds": 2, "team": TEAM},
    "moa": {"protocol": "moa", "max_rounds": 2, "team": TEAM},
    "self-moa": {"protocol": "vote", "team": ["alpha"] * 3},
}


async def test_every_protocol_runs_one_task_to_a_result_on_its_exact_team(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all()
    await ready(nc, agents=tuple(TEAM))
    ids = {name: nsed.new_task_id(name) for name in CASES}
    await asyncio.gather(
        *(
            nsed.publish_task(nc, nsed.task(ids[name], **policy), msg_id=ids[name])
            for name, policy in CASES.items()
        )
    )
    results = {name: await inbox.result(task_id, timeout=90) for name, task_id in ids.items()}
    for name, result in results.items():
        assert result.status == "completed", (name, result.detail)
        assert [s.agent_id for s in result.team] == CASES[name]["team"], name
        assert result.selection is not None
        assert result.selection.solver_status == "EXACT"
        assert result.extracted_answer is not None
    calls = {name: {a: u.calls for a, u in r.usage.items()} for name, r in results.items()}

    # nsed: a proposal and a review per member and round
    assert (results["nsed"].rounds, results["nsed"].stop_reason) == (2, "max_rounds")
    assert calls["nsed"] == dict.fromkeys(TEAM, 4)
    assert results["nsed"].halting is not None
    # vote: one round, one proposal each, no review
    assert (results["vote"].rounds, results["vote"].stop_reason) == (1, "max_rounds")
    assert calls["vote"] == dict.fromkeys(TEAM, 1)
    assert results["vote"].halting is None
    # debate: min_rounds = max_rounds = 2, one proposal per member and round
    assert results["debate"].rounds == 2
    assert calls["debate"] == dict.fromkeys(TEAM, 2)
    # moa: two layers of three, then the member with the highest p_g aggregates alone
    moa = results["moa"]
    assert (moa.rounds, moa.stop_reason) == (3, "max_rounds")
    assert moa.detail.startswith("moa: aggregated")
    best = min(moa.team, key=lambda s: (-(s.p_g or 0.0), s.seat)).agent_id
    assert calls["moa"] == {a: 3 if a == best else 2 for a in TEAM}
    assert moa.winner_agent == best
    assert [s.ok_proposals for s in moa.summaries] == [3, 3, 1]
    # Self-MoA: one agent in three seats, three samples, one round
    assert results["self-moa"].rounds == 1
    assert calls["self-moa"] == {"alpha": 3}
    assert results["self-moa"].summaries[0].ok_proposals == 3

    await inproc.close()
    await inbox.settle()
    assert all(inbox.count(task_id) == 1 for task_id in ids.values())
