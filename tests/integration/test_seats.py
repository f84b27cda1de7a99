"""Seats that cannot be forged, against a real nats-server: a proposal whose subject names
another agent than its body, or whose body claims a seat its agent does not hold, is
dead-lettered by the reviewer with the reason, and the round goes on as if it never came."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.dlq import DeadLetter
from schemas.record import DeliberationRecord
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


def proposal(task_id: str, seat: int, agent_id: str, message_id: str) -> dict[str, Any]:
    return {
        "type": "proposal.submitted",
        "task_id": task_id,
        "round": 1,
        "message_id": message_id,
        "proposal_id": message_id,
        "seat": seat,
        "agent_id": agent_id,
        "content": "Final answer: \\boxed{13}",
        "extracted_answer": "13",
    }


async def test_forged_proposals_are_dead_lettered_and_the_round_is_unaffected(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.latency_scale = 40.0  # ~2 s per call: round 1 stays open while we forge
    for name in ("broker", "reviewer", "voter", "gate"):
        inproc.start_service(name)
    inproc.start_agent("alpha")
    inproc.start_agent("bravo")
    await ready(nc, agents=("alpha", "bravo"))
    task_id = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(task_id, team_size=2, max_rounds=1), msg_id=task_id)
    [team] = await until(lambda: nsed.task_events(nc, task_id, "team", wait=0.1), what="team")
    seat_of = {s["agent_id"]: s["seat"] for s in team["seats"]}
    js = nc.jetstream()
    # alpha's body, for alpha's seat, on bravo's subject
    on_bravos = proposal(task_id, seat_of["alpha"], "alpha", "forged-subject")
    await js.publish(f"nsed.events.{task_id}.proposal.bravo", json.dumps(on_bravos).encode())
    # bravo, on its own subject, claiming alpha's seat
    claims_alphas = proposal(task_id, seat_of["alpha"], "bravo", "forged-seat")
    await js.publish(f"nsed.events.{task_id}.proposal.bravo", json.dumps(claims_alphas).encode())

    letters = await until(lambda: _letters(nc, 2), what="two reviewer dead letters")
    by_id = {json.loads(d.payload_excerpt)["message_id"]: d for d in letters}
    wrong_subject = by_id["forged-subject"]
    assert wrong_subject.subject == f"nsed.events.{task_id}.proposal.bravo"
    assert "of agent 'alpha'" in wrong_subject.error
    assert f"not on its own subject 'nsed.events.{task_id}.proposal.alpha'" in wrong_subject.error
    assert f"seat {seat_of['alpha']} of round 1 is not held by 'bravo'" in (
        by_id["forged-seat"].error
    )

    result = await nsed.wait_result(nc, task_id)
    # The forgeries changed nothing: both real seats proposed and reviewed in time, and no
    # proposal with the forged answer was counted (whether the two agreed is their business).
    assert not any(s.degraded for s in result.summaries)
    assert set(result.usage) == {"alpha", "bravo"}
    assert all(u.calls == 2 for u in result.usage.values())
    proposals = await nsed.task_events(nc, task_id, "proposal")
    real = [p for p in proposals if p["message_id"] not in by_id]
    assert sorted(p["agent_id"] for p in real) == ["alpha", "bravo"]
    entry = await js.key_value(subjects.DELIBERATIONS_BUCKET)
    record = msgspec.json.decode((await entry.get(task_id)).value or b"", type=DeliberationRecord)
    assert record.current.number == 1
    assert {p.message_id for p in record.current.proposals} == {p["message_id"] for p in real}


async def _letters(nc: Client, count: int) -> list[DeadLetter] | None:
    letters = await nsed.dead_letters(nc, "reviewer", wait=0.2)
    return letters if len(letters) >= count else None
