"""Voter handlers: reviews, ``VotingOpened`` and the reviewing timer in → the round's
``TallyComputed`` out, once the ballot box is full.

A review is validated here into its seat's ballot (``reviewer/validation``) and put in the
record by compare-and-set; the change that fills the box, or the reviewing timer's that
closes it, tallies in the same write (``ballots``). A round nobody reviews reaches the
voter as one ``VotingOpened``. Whatever the trigger, what goes out is a function of the
resulting record (``tally.published``), so a redelivered message emits the same tally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.ballot import VotingOpened
from schemas.record import DeliberationRecord
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue
from services._runtime.records import RecordStore
from services._runtime.route import Delivery
from services.core import ids, ledger
from services.core.senders import check_seat, check_sender
from services.core.timeouts import log_timeouts
from services.reviewer.phases import shown_texts
from services.reviewer.validation import validate_ballot
from services.voter import ballots
from services.voter.settings import VoterSettings
from services.voter.tally import close_voting, published


@dataclass(frozen=True)
class VoterDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: VoterSettings


async def on_review(
    msg: ReviewSubmitted, delivery: Delivery, deps: VoterDeps
) -> TallyComputed | None:
    check_sender(msg, delivery.subject)

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        check_seat(r, msg.round, msg.seat, msg.agent_id)
        cur = r.current
        packet = cur.packets.get(msg.seat)
        added = None
        if packet is not None and cur.number == msg.round:
            ballot = validate_ballot(
                msg,
                packet,
                shown_texts(r, list(packet.values())),
                message_id=ids.ballot(msg.task_id, msg.round, msg.seat),
            )
            added = ballots.add_ballot(r, ballot, deps.settings)
        if added is not None:
            return ledger.with_usage(added, msg.agent_id, msg.usage)
        return ledger.pay_late(r, msg.message_id, msg.agent_id, msg.usage, msg.round)

    # A round's reviews usually follow this replica's own last write: try its copy first
    # (confirmed by the compare-and-set, or read again).
    record, _ = await deps.store.update(msg.task_id, change, fresh=True)
    return published(record, msg.round)


async def on_voting_opened(msg: VotingOpened, deps: VoterDeps) -> TallyComputed | None:
    record, _ = await deps.store.update(
        msg.task_id, lambda r: close_voting(r, msg.round, deps.settings)
    )
    return published(record, msg.round)


async def on_timer(msg: PhaseDue, deps: VoterDeps) -> TallyComputed | None:
    """The reviewing timer: at its deadline, the seats without a ballot time out and the
    round is tallied in the same write."""
    now = deps.clock()
    # Early, and this process holds the task's record: the task exists, no read needed.
    # Otherwise the record is read (a timer of no task is refused at once, due or not).
    if now < msg.due_at and deps.store.holds(msg.task_id):
        raise NotYetDue(msg.due_at - now)

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        if now < msg.due_at:  # the deadline it was armed with is ahead
            raise NotYetDue(msg.due_at - now)
        cur = r.current
        if r.done or cur.number != msg.round or cur.phase != "reviewing":
            return None
        if now < cur.phase_deadline:  # the record is the truth about deadlines
            raise NotYetDue(cur.phase_deadline - now)
        return ballots.close_reviewing(r, deps.settings)

    record, changed = await deps.store.update(msg.task_id, change, fresh=True)
    if changed:
        log_timeouts(record, ballots.timed_out(record), "reviewing")
    elif not ballots.timed_out(record):
        return None  # the last review closed the box and emitted the tally
    # This timer closed the box (now, or before a crash lost its tally): the tally again.
    return published(record, msg.round)
