"""Reviewer handlers: proposals, reviews and phase timers in → review requests, ballots and
timers out. Each one: one compare-and-set on the record, then the messages the resulting
record calls for (the same ones again when a message is redelivered).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from schemas import subjects
from schemas.ballot import BallotAccepted
from schemas.outputs import ReviewStep
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord
from schemas.review import ReviewSubmitted
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, Rejected, UnknownTask
from services._runtime.records import RecordStore
from services._runtime.route import Delivery
from services.core import ids, ledger
from services.reviewer import phases
from services.reviewer.settings import ReviewerSettings
from services.reviewer.validation import validate_ballot

log = structlog.get_logger("reviewer")
TIMED_OUT = "review timed out"


@dataclass(frozen=True)
class ReviewerDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: ReviewerSettings


def check_sender(msg: ProposalSubmitted | ReviewSubmitted, delivery: Delivery) -> None:
    """Reject an agent output that arrived on another subject than its own: an agent's
    principal may publish only on subjects that carry its id, so a body naming another
    agent (or task) than its subject is a forgery, and must not count."""
    own = subjects.subject_for(msg)
    if delivery.subject != own:
        raise Rejected(
            f"{type(msg).__name__} of agent {msg.agent_id!r} for task {msg.task_id!r} "
            f"arrived on {delivery.subject!r}, not on its own subject {own!r}"
        )


def _check_seat(record: DeliberationRecord, round_number: int, seat: int, agent_id: str) -> None:
    if record.current.number != round_number:
        return  # another round: stale, and the transition ignores it
    team = {s.seat: s.agent_id for s in record.current.team}
    if team.get(seat) != agent_id:
        raise Rejected(f"seat {seat} of round {round_number} is not held by {agent_id!r}")


async def on_proposal(
    msg: ProposalSubmitted, delivery: Delivery, deps: ReviewerDeps
) -> Sequence[ReviewStep]:
    check_sender(msg, delivery)
    now = deps.clock()

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        _check_seat(r, msg.round, msg.seat, msg.agent_id)
        added = phases.add_proposal(r, msg, now, deps.settings.reasoning_excerpt_tokens)
        if added is not None:
            return added
        return ledger.pay_late(r, msg.message_id, msg.agent_id, msg.usage, msg.round)

    record, _ = await deps.store.update(msg.task_id, change)
    cur = record.current
    recorded = cur.proposal_of(msg.seat)
    if cur.number != msg.round or recorded is None or recorded.message_id != msg.message_id:
        return []
    return phases.review_outputs(record, excerpt_tokens=deps.settings.reasoning_excerpt_tokens)


async def on_review(
    msg: ReviewSubmitted, delivery: Delivery, deps: ReviewerDeps
) -> BallotAccepted | None:
    check_sender(msg, delivery)

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        _check_seat(r, msg.round, msg.seat, msg.agent_id)
        cur = r.current
        packet = cur.packets.get(msg.seat)
        added = None
        if packet is not None and cur.number == msg.round:
            ballot = validate_ballot(
                msg,
                packet,
                phases.shown_texts(r, list(packet.values())),
                message_id=ids.ballot(msg.task_id, msg.round, msg.seat),
            )
            added = phases.add_ballot(r, ballot)
        if added is not None:
            return ledger.with_usage(added, msg.agent_id, msg.usage)
        return ledger.pay_late(r, msg.message_id, msg.agent_id, msg.usage, msg.round)

    # Ballots usually follow this replica's own last write: try its copy first (confirmed
    # by the compare-and-set, or read again).
    record, _ = await deps.store.update(msg.task_id, change, fresh=True)
    cur = record.current
    ballot = cur.ballot_of(msg.seat)
    if cur.number != msg.round or ballot is None or cur.phase not in ("reviewing", "voting"):
        return None
    return phases.as_published(record, ballot)


async def on_timer(msg: PhaseDue, deps: ReviewerDeps) -> Sequence[ReviewStep]:
    # Read first: a timer of no task is refused at once, not held until it is due.
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise UnknownTask(msg.task_id)
    now = deps.clock()
    if now < msg.due_at:  # the deadline it was armed with is ahead
        raise NotYetDue(msg.due_at - now)
    if record.done or record.current.number != msg.round:
        return []
    cur = record.current
    if cur.phase != msg.phase:
        if not _closed_by_timer(record, msg):
            return []  # the phase closed on its own and emitted what it called for
        # This timer closed the phase, and a crash may have lost its outputs: emit them again.
        return phases.review_outputs(record, excerpt_tokens=deps.settings.reasoning_excerpt_tokens)
    now = deps.clock()
    if now < cur.phase_deadline:  # the record is the truth about deadlines
        raise NotYetDue(cur.phase_deadline - now)
    if msg.phase == "proposing":
        record, changed = await deps.store.update(msg.task_id, lambda r: _if_round(r, msg, now))
    else:
        record, changed = await deps.store.update(
            msg.task_id, lambda r: phases.close_reviewing(r) if _same(r, msg) else None
        )
    if record.current.number != msg.round:
        return []
    if changed:
        log_timeouts(record, msg.phase)
    return phases.review_outputs(record, excerpt_tokens=deps.settings.reasoning_excerpt_tokens)


def _closed_by_timer(record: DeliberationRecord, msg: PhaseDue) -> bool:
    cur = record.current
    if msg.phase == "proposing":
        return bool(cur.timed_out)
    return any(TIMED_OUT in b.notes for b in cur.ballots)


def log_timeouts(record: DeliberationRecord, phase: str) -> None:
    """A warning per member the phase timer left behind: who, where, and how long a phase
    may take (the task's deadline may have cut it shorter)."""
    cur = record.current
    if phase == "proposing":
        seats = list(cur.timed_out)
    else:
        seats = [b.seat for b in cur.ballots if TIMED_OUT in b.notes]
    agents = {s.seat: s.agent_id for s in cur.team}
    for seat in seats:
        log.warning(
            "member_timed_out",
            agent_id=agents.get(seat),
            seat=seat,
            phase=phase,
            round=cur.number,
            phase_timeout_s=round(record.phase_timeout_s, 1),
        )


def _same(record: DeliberationRecord, msg: PhaseDue) -> bool:
    return record.current.number == msg.round and record.current.phase == msg.phase


def _if_round(record: DeliberationRecord, msg: PhaseDue, now: float) -> DeliberationRecord | None:
    return phases.close_proposing(record, now) if _same(record, msg) else None
