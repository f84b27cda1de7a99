"""What a deliberation has spent: every model call that was made is paid for in the record.

A call that misses its phase (its seat timed out, or the task concluded first) is still
made and still billed by the server. When a phase closes without a seat's call, the call's
message id goes into the record's ``unpaid_calls``; if the call arrives after all, its usage
is added and the id removed, so a redelivered copy is never paid twice.
"""

from __future__ import annotations

import msgspec

from schemas.base import Usage
from schemas.record import DeliberationRecord
from services.core import ids

replace = msgspec.structs.replace


def with_usage(
    record: DeliberationRecord, agent_id: str, usage: Usage, round_number: int | None = None
) -> DeliberationRecord:
    """``record`` with ``usage`` added to the agent's totals for the task, and for the
    current round unless the call belongs to another one (``round_number``)."""
    totals = dict(record.usage)
    totals[agent_id] = totals.get(agent_id, Usage()) + usage
    current = record.current
    if round_number is None or round_number == current.number:
        in_round = dict(current.usage)
        in_round[agent_id] = in_round.get(agent_id, Usage()) + usage
        current = replace(current, usage=in_round)
    return replace(record, usage=totals, current=current)


def outstanding_calls(record: DeliberationRecord) -> tuple[str, ...]:
    """The calls the current round still waits for: proposals while proposing, reviews of
    the seats with a packet and no ballot while reviewing."""
    cur = record.current
    if cur.phase == "proposing":
        return tuple(
            ids.proposal(record.task_id, cur.number, s)
            for s in cur.seats()
            if cur.proposal_of(s) is None
        )
    if cur.phase == "reviewing":
        return tuple(
            ids.review(record.task_id, cur.number, s)
            for s in cur.packets
            if cur.ballot_of(s) is None
        )
    return ()


def expect_late(record: DeliberationRecord, calls: tuple[str, ...]) -> DeliberationRecord:
    """Remember ``calls`` (closed out without their answer) so that they are paid if they
    still come."""
    fresh = tuple(c for c in calls if c not in record.unpaid_calls)
    return replace(record, unpaid_calls=(*record.unpaid_calls, *fresh)) if fresh else record


def pay_late(
    record: DeliberationRecord, message_id: str, agent_id: str, usage: Usage, round_number: int
) -> DeliberationRecord | None:
    """Add a late call's usage once; None if it is not owed (unknown, or already paid)."""
    if message_id not in record.unpaid_calls:
        return None
    paid = with_usage(record, agent_id, usage, round_number)
    return replace(paid, unpaid_calls=tuple(c for c in record.unpaid_calls if c != message_id))
