"""The reviewing phase's ballot box as pure record transitions (the voter's):

    reviewing ──every seat has a ballot, or the reviewing timer fired──▶ voting ─▶ gating

A review comes in as a ``Ballot`` (``reviewer/validation.validate_ballot``); the change
that fills the box also tallies (``tally.close_voting``), so the last ballot of a round is
one write, not two, and the record is tallied exactly once whatever the order or
repetition of its reviews and timer: a ballot counts only while the round is reviewing and
its seat has none, and only the change that leaves ``reviewing`` tallies.
"""

from __future__ import annotations

import msgspec

from schemas.ballot import Ballot
from schemas.record import DeliberationRecord
from services.core import ids
from services.core.ledger import expect_late, outstanding_calls
from services.reviewer.validation import absent_ballot
from services.voter.settings import VoterSettings
from services.voter.tally import close_voting

replace = msgspec.structs.replace
TIMED_OUT = "review timed out"


def add_ballot(
    record: DeliberationRecord, ballot: Ballot, settings: VoterSettings
) -> DeliberationRecord | None:
    """``ballot`` in the box; the box full, the round tallied (``gating``). None if the
    round is not reviewing (over, or another one) or the seat has its ballot already."""
    cur = record.current
    if record.done or cur.number != ballot.round or cur.phase != "reviewing":
        return None
    if cur.ballot_of(ballot.seat) is not None:
        return None
    ballots = (*cur.ballots, ballot)
    if {b.seat for b in ballots} < set(cur.seats()):
        return replace(record, current=replace(cur, ballots=ballots))
    return _tallied(
        replace(record, current=replace(cur, ballots=ballots, phase="voting")), settings
    )


def close_reviewing(
    record: DeliberationRecord, settings: VoterSettings
) -> DeliberationRecord | None:
    """The reviewing deadline passed: every seat still without a ballot gets a timed-out
    one, and the round is tallied."""
    cur = record.current
    if record.done or cur.phase != "reviewing":
        return None
    record = expect_late(record, outstanding_calls(record))
    late = [
        absent_ballot(
            record.task_id,
            cur.number,
            seat.seat,
            seat.agent_id,
            TIMED_OUT,
            ids.ballot(record.task_id, cur.number, seat.seat),
        )
        for seat in cur.team
        if cur.ballot_of(seat.seat) is None
    ]
    voting = replace(record, current=replace(cur, ballots=(*cur.ballots, *late), phase="voting"))
    return _tallied(voting, settings)


def timed_out(record: DeliberationRecord) -> list[int]:
    """The current round's seats the reviewing timer gave a ballot: none when the last
    review, not the timer, closed the box."""
    return [b.seat for b in record.current.ballots if TIMED_OUT in b.notes]


def _tallied(voting: DeliberationRecord, settings: VoterSettings) -> DeliberationRecord:
    tallied = close_voting(voting, voting.current.number, settings)
    assert tallied is not None  # a round in ``voting`` of a record not done is tallied
    return tallied
