"""A finished one-round deliberation as the web view receives it: the record and the
task's events, built by hand with the voter's own tally (no NATS, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from schemas.base import Usage
from schemas.gate import DeliberationConcluded, Halting, RoundSummary
from schemas.record import DeliberationRecord
from schemas.task import Policy, ProtocolName, TaskSubmitted
from schemas.team import TeamSelected
from services.core import ids
from services.gateway.feed import Index, Summary
from services.voter.tally import published

from .builders import TASK, ballot, gating, proposal, record, team

# reviewer seat -> candidate seat -> weight
WEIGHTS = {0: {1: 60.0, 2: -40.0}, 1: {0: 70.0, 2: -30.0}, 2: {0: 80.0, 1: 20.0}}


def deliberation(
    *,
    prompt: str = "What is 6 times 7?",
    system: str | None = None,
    contents: Sequence[str] = ("six sevens", "six sevens", "guess"),
    answers: Sequence[str] = ("42", "42", "41"),
    notes: Sequence[str] = (),
    error: str | None = None,
    finished: bool = True,
    task_id: str = TASK,
    weights: Mapping[int, Mapping[int, float]] = WEIGHTS,
    protocol: ProtocolName = "nsed",
) -> tuple[DeliberationRecord, list[Any]]:
    """Three seats (agent0..2) propose ``contents`` with ``answers``, review each other
    with ``weights`` (reviewer 2's ballot invalid, for ``notes``, when notes are given),
    and, when ``finished``, the gate concludes with seat 0's answer. A ``protocol`` without
    review gives every seat the absent ballot the reviewer gives it."""
    the_task = TaskSubmitted(
        task_id=task_id,
        prompt=prompt,
        system=system,
        answer_format="text",
        policy=Policy(protocol=protocol),
    )
    props = [
        proposal(i, answers[i], task_id=task_id, content=contents[i], cost=0.001) for i in range(3)
    ]
    if error is not None:
        props[2] = msgspec.structs.replace(props[2], status="error", error=error)
    ballots = [
        ballot(
            i,
            {props[j].proposal_id: w for j, w in row.items()},
            task_id=task_id,
            valid=not (notes and i == 2),
            notes=notes if i == 2 else (),
        )
        for i, row in weights.items()
    ]
    if protocol != "nsed":
        absent = (f"no review in protocol {protocol}",)
        ballots = [ballot(i, {}, task_id=task_id, valid=False, notes=absent) for i in range(3)]
    seats = team("agent0", "agent1", "agent2")
    rec = gating(
        record(the_task=the_task, proposals=props, ballots=ballots, seats=seats, phase="voting")
    )
    tally = published(rec, 1)  # as the voter sends it: with the round's ballots
    assert tally is not None
    selected = TeamSelected(task_id=task_id, round=1, message_id=ids.team(task_id, 1), seats=seats)
    events: list[Any] = [selected, *props, tally]
    if finished:
        result = _result(rec, task_id)
        rec = msgspec.structs.replace(rec, result=result)
        events.append(result)
    return rec, events


def summaries(*records: DeliberationRecord) -> list[Summary]:
    """The rows the read side keeps of these records (as its watch of the bucket does)."""
    index = Index()
    for rec in records:
        index.apply(rec.task_id, msgspec.json.encode(rec), "PUT")
    return index.recent(100)


def _result(rec: DeliberationRecord, task_id: str) -> DeliberationConcluded:
    tally = rec.current.tally
    assert tally is not None
    assert tally.winner is not None
    winner = next(p for p in rec.current.proposals if p.proposal_id == tally.winner)
    usage = {p.agent_id: p.usage for p in rec.current.proposals}
    summary = RoundSummary(
        round=1,
        winner=winner.proposal_id,
        winner_agent=winner.agent_id,
        answer=winner.extracted_answer,
        conviction=tally.conviction,
        scores={s.agent_id: s.score for s in tally.scores},
        state_tokens=0,
        ok_proposals=tally.ok_proposals,
        valid_ballots=tally.valid_ballots,
        quorum_met=tally.quorum_met,
        evidence=0.21,
    )
    return DeliberationConcluded(
        task_id=task_id,
        round=1,
        message_id=ids.result(task_id),
        status="completed",
        stop_reason="evidence",
        answer=winner.content,
        extracted_answer=winner.extracted_answer,
        winner_agent=winner.agent_id,
        rounds=1,
        summaries=(summary,),
        team=rec.current.team,
        usage=usage,
        total=sum(usage.values(), Usage()),
        cost_usd=sum(u.cost_usd for u in usage.values()),
        trace_id="0af7651916cd43dd8448eb211c80319c",
        halting=Halting(
            p_g=0.6, p_v=0.8, lam=0.8, beta=0.0013, k=0.48, t_opt=5.6, signal=0.3,
            evidence=0.21, target=0.18,
        ),
    )  # fmt: skip
