"""The proposing phase as pure record transitions, and what opening review emits.

    proposing ──all seats proposed, or the phase timer fired──▶ reviewing (or voting)

Entering ``reviewing`` builds the packets and, at once, an (invalid) ballot for every seat
that will not review, with the reason; so every seat ends the round with exactly one
ballot. A review request carries the reviewing seat's role and its instruction, as its
proposal request did. The reviewing phase itself is the voter's (``voter/ballots``): it
takes each review as a ballot and tallies when the box is full or the reviewing timer
(armed here, owned by the voter) fires. The protocols without review (vote, moa, debate)
build no packets, nor does a round in which nobody can review: every seat gets its absent
ballot ("no review in protocol …") and the phase goes straight to ``voting``, for which
the voter hears one ``VotingOpened``. The messages each state calls for are a function of
the record alone, which is what lets a redelivered message emit them again unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from schemas.ballot import Ballot, VotingOpened
from schemas.outputs import ReviewStep
from schemas.propose import REVIEWING, ProposalSubmitted
from schemas.record import DeliberationRecord, RoundState
from schemas.review import ReviewRequested
from schemas.task import TaskView
from services.agent_runner.prompts import RUBRIC
from services.core import ids, roles
from services.core.ledger import expect_late, outstanding_calls, with_usage
from services.core.timers import phase_due
from services.core.tokens import estimate_tokens, truncate_to_tokens
from services.reviewer.packets import build_packets, candidate, shown_text
from services.reviewer.validation import absent_ballot

replace = msgspec.structs.replace


def add_proposal(
    record: DeliberationRecord,
    msg: ProposalSubmitted,
    now: float,
    reasoning_tokens: int,
) -> DeliberationRecord | None:
    """Gather a proposal; None if its phase is over (see ``ledger.pay_late``) or it is a
    repeat. ``reasoning_tokens``: how much of its reasoning the record keeps for reviewers."""
    cur = record.current
    if record.done or cur.number != msg.round or cur.phase != "proposing":
        return None
    if cur.proposal_of(msg.seat) is not None or msg.seat in cur.timed_out:
        return None
    # The record keeps an excerpt of the reasoning (what reviewers are shown); the whole
    # proposal stays in the event stream. Every write of the record stays small.
    if msg.reasoning and estimate_tokens(msg.reasoning) > reasoning_tokens:
        msg = replace(msg, reasoning=truncate_to_tokens(msg.reasoning, reasoning_tokens))
    changed = with_usage(
        replace(record, current=replace(cur, proposals=(*cur.proposals, msg))),
        msg.agent_id,
        msg.usage,
    )
    if {p.seat for p in changed.current.proposals} >= set(cur.seats()):
        return open_review(changed, now)
    return changed


def close_proposing(record: DeliberationRecord, now: float) -> DeliberationRecord | None:
    """The proposing deadline passed: the seats that did not propose are timed out."""
    cur = record.current
    if record.done or cur.phase != "proposing":
        return None
    missing = tuple(s for s in cur.seats() if cur.proposal_of(s) is None)
    record = expect_late(record, outstanding_calls(record))
    return open_review(replace(record, current=replace(cur, timed_out=missing)), now)


def open_review(record: DeliberationRecord, now: float) -> DeliberationRecord:
    cur = record.current
    protocol = record.task.policy.protocol
    reviewed = protocol == "nsed"
    packets = build_packets(record.task_id, cur.number, cur.proposals) if reviewed else {}
    ballots: list[Ballot] = []
    for seat in cur.team:
        if seat.seat in packets:
            continue
        own = cur.proposal_of(seat.seat)
        if not reviewed:
            reason = f"no review in protocol {protocol}"
        elif own is None:
            reason = "no proposal in time; not a reviewer this round"
        elif own.status not in REVIEWING:
            reason = f"proposal {own.status}; not a reviewer this round"
        else:
            reason = "no other ok proposal to review"
        ballots.append(
            absent_ballot(
                record.task_id,
                cur.number,
                seat.seat,
                seat.agent_id,
                reason,
                ids.ballot(record.task_id, cur.number, seat.seat),
            )
        )
    phase = "reviewing" if packets else "voting"
    deadline = min(now + record.phase_timeout_s, max(record.deadline_at, now))
    return replace(
        record,
        current=replace(
            cur, phase=phase, phase_deadline=deadline, packets=packets, ballots=tuple(ballots)
        ),
    )


def review_outputs(record: DeliberationRecord, *, excerpt_tokens: int) -> list[ReviewStep]:
    """What the review phase of the current round calls for: the review requests still
    unanswered, or, for a round that went straight to ``voting``, the one ``VotingOpened``
    the voter tallies on. The reviewing timer is not among them: it is armed only when the
    round can still be reviewing at its deadline (``reviewing_timer``)."""
    cur = record.current
    if cur.phase == "voting":
        return [
            VotingOpened(
                task_id=record.task_id,
                round=cur.number,
                message_id=ids.voting(record.task_id, cur.number),
            )
        ]
    if cur.phase != "reviewing":
        return []
    return [*review_requests(record, excerpt_tokens)]


def reviewing_timer(record: DeliberationRecord) -> list[ReviewStep]:
    """The voter's reviewing timer of a round still reviewing, armed by the proposing timer.

    Reviewing opens at or before the proposing deadline, and its own deadline is a phase
    later, so a round that is still reviewing when its proposing timer falls due is the
    only one whose reviewing deadline can pass: it gets its timer then, and every round
    that ends sooner (almost all) never publishes one."""
    cur = record.current
    if record.done or cur.phase != "reviewing":
        return []
    return [phase_due(record.task_id, cur.number, "reviewing", "voter", cur.phase_deadline)]


def review_requests(record: DeliberationRecord, excerpt_tokens: int) -> list[ReviewRequested]:
    cur = record.current
    view = TaskView.of(record.task_id, record.task)
    by_id = {p.proposal_id: p for p in cur.proposals}
    names = masked_names(record, cur)
    out = []
    for seat in cur.team:
        packet = cur.packets.get(seat.seat)
        if packet is None or cur.ballot_of(seat.seat) is not None:
            continue
        own = cur.proposal_of(seat.seat)
        out.append(
            ReviewRequested(
                task_id=record.task_id,
                round=cur.number,
                message_id=ids.review_request(record.task_id, cur.number, seat.seat),
                seat=seat.seat,
                agent_id=seat.agent_id,
                task=view,
                candidates=tuple(
                    candidate(lbl, by_id[pid], names, excerpt_tokens)
                    for lbl, pid in sorted(packet.items())
                ),
                own=candidate("own", own, names, 0) if own else None,
                rubric=RUBRIC,
                deadline=cur.phase_deadline,
                role=seat.role,
                role_instruction=roles.instruction(record.task.policy, seat.role),
            )
        )
    return out


def masked_names(record: DeliberationRecord, cur: RoundState) -> list[str]:
    names = [s.agent_id for s in cur.team]
    names += [p.model for p in cur.proposals if p.model]
    return names


def shown_texts(record: DeliberationRecord, packet_ids: Sequence[str]) -> dict[str, str]:
    cur = record.current
    names = masked_names(record, cur)
    by_id = {p.proposal_id: p for p in cur.proposals}
    return {pid: shown_text(by_id[pid], names) for pid in packet_ids if pid in by_id}
