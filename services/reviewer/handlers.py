"""Reviewer handlers: proposals and the proposing timer in → review requests, the reviewing
timer (the voter's, armed by the proposing timer only for a round still reviewing) or, for a
round nobody reviews, ``VotingOpened`` out. Each one: one
compare-and-set on the record, then the messages the resulting record calls for (the same
ones again when a message is redelivered).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.outputs import ReviewStep
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, UnknownTask
from services._runtime.records import RecordStore
from services._runtime.route import Delivery
from services.core import ledger
from services.core.senders import check_seat, check_sender
from services.core.timeouts import log_timeouts
from services.reviewer import phases
from services.reviewer.settings import ReviewerSettings


@dataclass(frozen=True)
class ReviewerDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: ReviewerSettings


async def on_proposal(
    msg: ProposalSubmitted, delivery: Delivery, deps: ReviewerDeps
) -> Sequence[ReviewStep]:
    check_sender(msg, delivery.subject)
    now = deps.clock()

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        check_seat(r, msg.round, msg.seat, msg.agent_id)
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


async def on_timer(msg: PhaseDue, deps: ReviewerDeps) -> Sequence[ReviewStep]:
    """The proposing timer (the reviewing one is the voter's)."""
    now = deps.clock()
    # Early, and this process holds the task's record: the task exists, no read needed.
    if now < msg.due_at and deps.store.holds(msg.task_id):
        raise NotYetDue(msg.due_at - now)
    # Read first: a timer of no task is refused at once, not held until it is due.
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise UnknownTask(msg.task_id)
    if now < msg.due_at:  # the deadline it was armed with is ahead
        raise NotYetDue(msg.due_at - now)
    if record.done or record.current.number != msg.round or msg.phase != "proposing":
        return []
    cur = record.current
    if cur.phase != "proposing":
        if not cur.timed_out:
            # The phase closed on its own and emitted its requests; if the round is still
            # reviewing, its reviewing deadline can pass now: arm that timer.
            return phases.reviewing_timer(record)
        # This timer closed the phase, and a crash may have lost its outputs: emit them again.
        return _closed_by_timer(record, deps)
    if now < cur.phase_deadline:  # the record is the truth about deadlines
        raise NotYetDue(cur.phase_deadline - now)
    record, changed = await deps.store.update(msg.task_id, lambda r: _if_round(r, msg, now))
    if record.current.number != msg.round:
        return []
    if changed:
        log_timeouts(record, record.current.timed_out, "proposing")
    return _closed_by_timer(record, deps)


def _closed_by_timer(record: DeliberationRecord, deps: ReviewerDeps) -> list[ReviewStep]:
    excerpt = deps.settings.reasoning_excerpt_tokens
    return [
        *phases.review_outputs(record, excerpt_tokens=excerpt),
        *phases.reviewing_timer(record),
    ]


def _if_round(record: DeliberationRecord, msg: PhaseDue, now: float) -> DeliberationRecord | None:
    cur = record.current
    if cur.number != msg.round or cur.phase != "proposing":
        return None
    return phases.close_proposing(record, now)
