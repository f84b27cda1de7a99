"""Who may speak for a seat (pure): an agent output counts only on its own subject and from
the agent that holds the seat it claims. The reviewer checks proposals, the voter reviews;
a failed check raises ``Rejected``, so the message is dead-lettered, never counted."""

from __future__ import annotations

from schemas import subjects
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord
from schemas.review import ReviewSubmitted
from services._runtime.errors import Rejected


def check_sender(msg: ProposalSubmitted | ReviewSubmitted, subject: str) -> None:
    """Reject an agent output that arrived on another subject than its own: an agent's
    principal may publish only on subjects that carry its id, so a body naming another
    agent (or task) than its subject is a forgery, and must not count."""
    own = subjects.subject_for(msg)
    if subject != own:
        raise Rejected(
            f"{type(msg).__name__} of agent {msg.agent_id!r} for task {msg.task_id!r} "
            f"arrived on {subject!r}, not on its own subject {own!r}"
        )


def check_seat(record: DeliberationRecord, round_number: int, seat: int, agent_id: str) -> None:
    """Reject an output for a seat of the current round that ``agent_id`` does not hold."""
    if record.current.number != round_number:
        return  # another round: stale, and the transition ignores it
    team = {s.seat: s.agent_id for s in record.current.team}
    if team.get(seat) != agent_id:
        raise Rejected(f"seat {seat} of round {round_number} is not held by {agent_id!r}")
