"""Ending a deliberation before its halting rule does (pure): the task's deadline passed, or
a client cancelled it. Either way the calls still out are paid for when they arrive, and
if no round was tallied yet the proposals in hand still answer: the best of them by the
ballots already in, else their most common answer.
"""

from __future__ import annotations

import msgspec

from schemas.gate import StopReason
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord
from services.core.ledger import expect_late, outstanding_calls
from services.gate.rounds import conclude, fatigue_model, halting_info
from services.gate.settings import GateSettings
from services.voter import qv, trust
from services.voter.options import BY_ANSWER, entries

replace = msgspec.structs.replace


def cancel(
    record: DeliberationRecord, reason: str, now: float, settings: GateSettings
) -> DeliberationRecord | None:
    """End a task a client cancelled, with what it has; None if it had already ended."""
    if record.done:
        return None
    cur = record.current
    note = f"cancelled during round {cur.number} ({cur.phase})" + (f": {reason}" if reason else "")
    return end_early(record, "cancelled", note, now, settings)


def conclude_at_deadline(
    record: DeliberationRecord, now: float, settings: GateSettings
) -> DeliberationRecord | None:
    if record.done:
        return None
    cur = record.current
    note = f"deadline reached during round {cur.number} ({cur.phase})"
    return replace(end_early(record, "deadline", note, now, settings), concluded_by_timer=True)


def end_early(
    record: DeliberationRecord, reason: StopReason, note: str, now: float, settings: GateSettings
) -> DeliberationRecord:
    """Conclude a round that was cut short: the calls still out are paid when they come,
    and the proposals in hand still answer if no round was tallied."""
    info = None
    if record.task.policy.protocol == "nsed":
        info = halting_info(record, fatigue_model(record, settings), record.evidence)
    record = expect_late(record, outstanding_calls(record))  # calls still out are paid later
    if record.last_winner is None and record.last_leader is None:
        # No round was tallied yet; the proposals in hand are still worth an answer.
        best, how = best_in_hand(record)
        if best is not None:
            record = replace(record, last_leader=replace(best, reasoning=None))
            note = f"{note}; the answer is {how}"
    return conclude(record, reason, note, now, info)


def best_in_hand(record: DeliberationRecord) -> tuple[ProposalSubmitted | None, str]:
    """The best ok proposal of a round the deadline cut short: by the ballots already in
    where some count, else the most common answer (ties by the task's seeded hash)."""
    cur = record.current
    ok = cur.ok_proposals()
    if not ok:
        return None, ""
    seed = f"{record.task_id}:{cur.number}"
    voted = qv.tally(trust.ballots(cur), entries(record), by_answer=_by_answer(record), seed=seed)
    if voted.counted and voted.winner is not None:
        how = f"the best of {len(ok)} proposal(s) by the {len(voted.counted)} ballot(s) in"
        return next(p for p in ok if p.proposal_id == voted.winner), how
    common = qv.plurality(entries(record), seed=seed)
    how = f"the most common answer of {len(ok)} proposal(s), unreviewed"
    return next((p for p in ok if p.proposal_id == common.winner), None), how


def _by_answer(record: DeliberationRecord) -> bool:
    return record.task.answer_format in BY_ANSWER
