"""Step 4 — the ballot box: each seat's validated ``Ballot`` (kept in the record, not sent)
and ``VotingOpened`` (reviewer → voter), the one trigger of a round nobody reviews.

The voter validates each ``ReviewSubmitted`` itself into a ``Ballot`` and keeps it in the
record; the round's ``TallyComputed`` carries every ballot to watchers. Every seat ends a
round with exactly one ballot: a valid one, or an invalid one whose ``notes`` say why (no
valid entry, review error, timed out, not a reviewer), so the tally never waits on a
ballot that cannot come. A round whose reviewer opens no review (the protocols without
review, or nobody able to review) goes straight to ``voting`` with every ballot absent:
no review will reach the voter, so the reviewer publishes one ``VotingOpened`` for it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.base import AgentId, Event, Struct, TaskId
from schemas.limits import (
    CLAIMS_PER_ENTRY,
    MAX_READING_TEAM,
    BallotNotes,
    Count,
    Id,
    Justification,
    Quote,
    RoundNumber,
    SeatNumber,
)
from schemas.review import Verdict

# The voter clamps every weight to [-100, 100] (services/reviewer/validation.py).
Weight = Annotated[float, msgspec.Meta(ge=-100.0, le=100.0)]


class ClaimCheck(Struct, frozen=True, kw_only=True):
    proposal_id: Id
    quote: Quote
    verdict: Verdict


class Critique(Struct, frozen=True, kw_only=True):
    proposal_id: Id
    weight: Weight
    text: Justification


class Ballot(Struct, frozen=True, kw_only=True):
    """One seat's ballot of one round (what was ``Ballot``, once a message of its
    own; the record's copies of old ones still decode: their ``type`` and ``final`` are
    ignored)."""

    task_id: TaskId
    round: RoundNumber
    message_id: Id
    seat: SeatNumber
    agent_id: AgentId
    valid: bool
    # real proposal_id -> weight in [-100, 100]
    weights: Annotated[dict[Id, Weight], msgspec.Meta(max_length=MAX_READING_TEAM)] = msgspec.field(
        default_factory=dict
    )
    critiques: Annotated[tuple[Critique, ...], msgspec.Meta(max_length=MAX_READING_TEAM)] = ()
    claims: Annotated[
        tuple[ClaimCheck, ...], msgspec.Meta(max_length=MAX_READING_TEAM * CLAIMS_PER_ENTRY)
    ] = ()
    notes: BallotNotes = ()
    dropped_entries: Count = 0
    ungrounded_quotes: Count = 0


class VotingOpened(Event, tag="voting.opened", frozen=True, kw_only=True):
    """The round is in ``voting`` with every ballot absent: tally it (a trigger: the record
    holds the ballots)."""
