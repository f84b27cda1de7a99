"""A closed round's ``RoundSummary`` (pure): its winner, scores, quorum, usage and cost,
the quality of its output (answers extracted, reviews valid), and notes on what went wrong
(timeouts, errors, missing ballots, no quorum), which also say whether the round is
degraded."""

from __future__ import annotations

from schemas.gate import Quality, RoundSummary
from schemas.record import RoundState
from schemas.tally import TallyComputed


def round_notes(cur: RoundState) -> tuple[list[str], bool]:
    """Human-readable notes on what went wrong in a round, and whether it is degraded."""
    notes: list[str] = []
    degraded = False
    agents = {s.seat: s.agent_id for s in cur.team}
    for seat in cur.timed_out:
        notes.append(f"seat {seat} ({agents.get(seat)}) did not propose in time")
        degraded = True
    for proposal in cur.proposals:
        if proposal.status != "ok":
            notes.append(
                f"seat {proposal.seat} ({proposal.agent_id}) {proposal.status}: "
                f"{proposal.error or 'no reason'}"
            )
    for ballot in cur.ballots:
        if "review timed out" in ballot.notes:
            notes.append(f"seat {ballot.seat} ({ballot.agent_id}) did not review in time")
            degraded = True
    tally = cur.tally
    if tally is not None and not tally.quorum_met:
        notes.append(
            f"below quorum: {tally.ok_proposals} ok proposal(s), "
            f"{tally.valid_ballots} valid ballot(s)"
        )
        degraded = True
    return notes, degraded


def quality(cur: RoundState) -> Quality:
    """The round's ``Quality``: what came back of what was asked."""
    reviewed = [
        b for b in cur.ballots if b.seat in cur.packets and "review timed out" not in b.notes
    ]
    return Quality(
        proposals=len(cur.proposals),
        answered=len(cur.ok_proposals()),
        reviews=len(reviewed),
        valid_reviews=sum(1 for b in reviewed if b.valid),
    )


def total(parts: list[Quality]) -> Quality:
    return Quality(
        proposals=sum(q.proposals for q in parts),
        answered=sum(q.answered for q in parts),
        reviews=sum(q.reviews for q in parts),
        valid_reviews=sum(q.valid_reviews for q in parts),
    )


def summarize(
    cur: RoundState, tally: TallyComputed, state_tokens: int, evidence: float, now: float = 0.0
) -> RoundSummary:
    winner = next((p for p in cur.proposals if p.proposal_id == tally.winner), None)
    notes, degraded = round_notes(cur)
    return RoundSummary(
        round=cur.number,
        winner=tally.winner,
        winner_agent=winner.agent_id if winner else None,
        answer=winner.extracted_answer if winner else None,
        conviction=tally.conviction,
        scores={s.agent_id: s.score for s in tally.scores},
        state_tokens=state_tokens,
        ok_proposals=tally.ok_proposals,
        valid_ballots=tally.valid_ballots,
        quorum_met=tally.quorum_met,
        unanimous=tally.unanimous,
        supported=tally.supported,
        degraded=degraded,
        evidence=round(evidence, 6),
        duration_s=round(max(now - cur.started_at, 0.0), 4) if now else 0.0,
        usage=dict(cur.usage),
        cost_usd=round(sum(u.cost_usd for u in cur.usage.values()), 8),
        notes=tuple(notes),
        quality=quality(cur),
    )
