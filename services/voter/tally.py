"""The voting phase as a pure record transition: every seat has its ballot (``voting``) →
the round's tally in the record (``gating``), and the tally as it goes out.

``compute_tally`` is ``qv.tally`` over the round's options (answers, or proposals for free
text), each ballot weighed by its reviewer's ``trust``, or ``qv.plurality`` for the
protocols without review, whose quorum is one ok proposal; ``close_voting`` stores it in
the record, once, whichever message asks; ``published`` is the tally as it goes out, with
the round's ballots (the record's copy goes without them: the record holds them already).
"""

from __future__ import annotations

import msgspec

from schemas.record import DeliberationRecord, RoundState
from schemas.tally import OptionScore, ProposalScore, TallyComputed
from services.core import ids
from services.voter import qv, trust
from services.voter.options import BY_ANSWER, entries
from services.voter.settings import VoterSettings


def close_voting(
    record: DeliberationRecord, round_number: int, settings: VoterSettings
) -> DeliberationRecord | None:
    """Round ``round_number`` tallied and handed to the gate; None when the record is not
    in that round's ``voting`` phase (tallied already, or moved on)."""
    cur = record.current
    if record.done or cur.number != round_number or cur.phase != "voting":
        return None
    tally = compute_tally(record, settings)
    return msgspec.structs.replace(
        record, current=msgspec.structs.replace(cur, tally=tally, phase="gating")
    )


def published(record: DeliberationRecord, round_number: int) -> TallyComputed | None:
    """Round ``round_number``'s tally with every ballot, in seat order, while the record is
    in that round's ``gating``; None otherwise (not tallied yet, or the gate has it). A
    function of the record alone: every emission of a round's tally is the same."""
    cur = record.current
    if cur.number != round_number or cur.phase != "gating" or cur.tally is None:
        return None
    ballots = tuple(sorted(cur.ballots, key=lambda b: b.seat))
    return msgspec.structs.replace(cur.tally, ballots=ballots)


def compute_tally(record: DeliberationRecord, settings: VoterSettings) -> TallyComputed:
    cur: RoundState = record.current
    ok = cur.ok_proposals()
    seed = f"{record.task_id}:{cur.number}"
    reviewed = record.task.policy.protocol == "nsed"
    result = qv.tally(
        trust.ballots(cur),
        entries(record),
        by_answer=record.task.answer_format in BY_ANSWER,
        seed=seed,
    ) if reviewed else qv.plurality(entries(record), seed=seed)  # fmt: skip
    by_id = {p.proposal_id: p for p in ok}
    scores = tuple(
        ProposalScore(
            proposal_id=pid,
            seat=by_id[pid].seat,
            agent_id=by_id[pid].agent_id,
            score=round(result.scores[pid], 6),
            net_support=round(result.net_support[pid], 6),
            controversy=round(result.controversy[pid], 6),
            ballots=result.coverage[pid],
        )
        for pid in by_id
    )
    winner = by_id.get(result.winner) if result.winner else None
    counted = len(result.counted)
    return TallyComputed(
        task_id=record.task_id,
        round=cur.number,
        message_id=ids.tally(record.task_id, cur.number),
        scores=scores,
        votes={
            seat: {p: round(s, 6) for p, s in row.items()} for seat, row in result.votes.items()
        },
        winner=result.winner,
        winner_seat=winner.seat if winner else None,
        conviction=round(result.conviction, 6),
        ok_proposals=len(ok),
        valid_ballots=counted,
        quorum_met=(
            len(ok) >= settings.quorum_proposals and counted >= settings.quorum_ballots
            if reviewed
            else len(ok) >= 1
        ),
        unanimous=result.unanimous,
        options=tuple(
            OptionScore(
                key=o.key,
                answer=o.answer,
                proposals=o.proposals,
                score=round(o.score, 6),
                net_support=round(o.net_support, 6),
                ballots=o.ballots,
            )
            for o in result.options
        ),
        winner_answer=winner.extracted_answer if winner else None,
        supported=result.supported,
        abstained=result.abstained,
    )
