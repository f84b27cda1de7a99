"""Phase deadlines live in the record and are swept by durable timers: a silent agent
cannot stall a deliberation, and the result says what went wrong."""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client
from nats.aio.msg import Msg

from schemas import subjects
from schemas.propose import ProposalSubmitted
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


async def _task_with_a_silent_member(
    inproc: InProcessServices, nc: Client, phase_timeout_s: float
) -> str:
    """A one-round task of four whose member delta never answers."""
    inproc.start_all(agents=("alpha", "bravo", "charlie", "delta"))
    await ready(nc, agents=("alpha", "bravo", "charlie", "delta"))
    # delta's runner dies abruptly; its card lingers until its TTL, so the broker still
    # seats it and its work waits in its queue with nobody to take it.
    await inproc.cancel("agent-delta")
    task_id = nsed.new_task_id()
    body = nsed.task(
        task_id,
        pinned_agents=["delta"],
        team_size=4,
        max_rounds=1,
        phase_timeout_s=phase_timeout_s,
    )
    await nsed.publish_task(nc, body, msg_id=task_id)
    return task_id


async def test_a_member_that_never_answers_times_out_and_the_result_is_degraded(
    inproc: InProcessServices, nc: Client
) -> None:
    task_id = await _task_with_a_silent_member(inproc, nc, phase_timeout_s=1.5)
    result = await nsed.wait_result(nc, task_id, timeout=30)
    assert result.status == "degraded"
    assert result.rounds == 1
    assert any("delta" in note and "in time" in note for note in result.summaries[0].notes)
    assert result.answer is not None  # the three others still answered


async def test_a_task_whose_deadline_passes_ends_with_the_best_answer_so_far(
    inproc: InProcessServices, nc: Client
) -> None:
    inbox = await nsed.ResultInbox.open(nc)
    inproc.latency_scale = 20.0  # ~1 s per call
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id()
    body = nsed.task(task_id, max_rounds=6, min_rounds=6, deadline_s=3.5)
    await nsed.publish_task(nc, body, msg_id=task_id)
    result = await inbox.result(task_id, timeout=30)
    assert result.stop_reason == "deadline"
    assert result.rounds < 6
    await inproc.close()  # drained: whatever the services published has been sent
    await inbox.settle()
    assert inbox.count(task_id) == 1
    assert await nsed.stored_result(nc, task_id) == result


async def test_timers_survive_the_reviewer_being_away_when_they_fall_due(
    inproc: InProcessServices, nc: Client
) -> None:
    task_id = await _task_with_a_silent_member(inproc, nc, phase_timeout_s=1.0)
    await until(lambda: nsed.task_events(nc, task_id, "proposal", wait=0.1), what="a proposal")
    await inproc.stop("reviewer")  # away while the proposing deadline falls due
    inproc.start_service("reviewer")
    result = await nsed.wait_result(nc, task_id, timeout=30)
    assert result.status == "degraded"
    assert result.rounds == 1


async def test_a_member_that_proposes_but_never_reviews_times_out_at_the_reviewing_deadline(
    inproc: InProcessServices, nc: Client
) -> None:
    """No reviewing timer is armed when review opens; the round's proposing timer arms it
    because the round is still reviewing then, and the voter closes the box at its time."""
    inproc.start_all(agents=("alpha", "bravo", "charlie"))
    inproc.latency_scale = 40.0  # delta's calls take about 2 s; the others' 50 ms
    inproc.start_agent("delta")
    await ready(nc, agents=("alpha", "bravo", "charlie", "delta"))
    task_id = nsed.new_task_id()
    body = nsed.task(
        task_id, pinned_agents=["delta"], team_size=4, max_rounds=1, phase_timeout_s=6.0
    )
    await nsed.publish_task(nc, body, msg_id=task_id)

    async def delta_proposed() -> bool:
        proposals = await nsed.task_events(nc, task_id, "proposal", wait=0.05)
        return any(p["agent_id"] == "delta" for p in proposals)

    await until(delta_proposed, what="delta's proposal")
    await inproc.cancel("agent-delta")  # mid-way through its review call
    result = await nsed.wait_result(nc, task_id, timeout=40)
    assert result.status == "degraded"
    assert result.rounds == 1
    notes = result.summaries[0].notes
    assert any("delta" in note and "review" in note for note in notes), notes
    reviews = await nsed.task_events(nc, task_id, "review", wait=0.1)
    assert sorted(r["agent_id"] for r in reviews) == ["alpha", "bravo", "charlie"]


async def test_a_member_that_goes_silent_in_a_later_round_times_out_on_that_rounds_timers(
    inproc: InProcessServices, nc: Client
) -> None:
    # A task keeps only its latest round's timer per phase: round 2's reviewing timer and
    # round 3's proposing timer must each have replaced the round before's, not been lost.
    agents = ("alpha", "bravo", "charlie", "delta")
    inproc.latency_scale = 4.0  # calls slow enough that delta is gone before its review
    inproc.start_all(agents=agents)
    await ready(nc, agents=agents)
    task_id = nsed.new_task_id("silent-later")
    gone = asyncio.Event()

    async def on_proposal(msg: Msg) -> None:
        # delta proposes in round 2, then its runner dies before it reviews.
        if json.loads(msg.data)["round"] == 2 and not gone.is_set():
            gone.set()
            await inproc.cancel("agent-delta")

    delta = subjects.filter_for(ProposalSubmitted, task_id=task_id, agent_id="delta")
    sub = await nc.subscribe(delta, cb=on_proposal)
    body = nsed.task(
        task_id,
        pinned_agents=["delta"],
        team_size=4,
        max_rounds=3,
        min_rounds=3,
        phase_timeout_s=2.0,
        deadline_s=90,
    )
    await nsed.publish_task(nc, body, msg_id=task_id)
    # Well before the task's deadline: only the phase timers can have ended these phases.
    result = await nsed.wait_result(nc, task_id, timeout=30)
    await sub.unsubscribe()
    assert gone.is_set()
    assert result.rounds == 3
    notes = [round_.notes for round_ in result.summaries]
    assert not any("delta" in note for note in notes[0])
    assert any("delta" in note and "review in time" in note for note in notes[1])
    assert any("delta" in note and "propose in time" in note for note in notes[2])
