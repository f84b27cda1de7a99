"""Step 4 — ballot: the reviewer's validated ballot (reviewer → voter).

Exactly one ``BallotAccepted`` is emitted per seat and round: a valid ballot, or an invalid
one whose ``notes`` say why (no valid entry, review error, timed out, not a reviewer). The
voter tallies when every seat has one, so the fan-in never waits on a ballot that cannot come.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.base import AgentId, Event, Struct
from schemas.limits import (
    CLAIMS_PER_ENTRY,
    MAX_READING_TEAM,
    BallotNotes,
    Count,
    Id,
    Justification,
    Quote,
    SeatNumber,
)
from schemas.review import Verdict

# The reviewer clamps every weight to [-100, 100] (services/reviewer/validation.py).
Weight = Annotated[float, msgspec.Meta(ge=-100.0, le=100.0)]


class ClaimCheck(Struct, frozen=True, kw_only=True):
    proposal_id: Id
    quote: Quote
    verdict: Verdict


class Critique(Struct, frozen=True, kw_only=True):
    proposal_id: Id
    weight: Weight
    text: Justification


class BallotAccepted(Event, tag="ballot.accepted", frozen=True, kw_only=True):
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
    # Published once every seat had its ballot: the voter tallies on this one and skips
    # reading the record for the others.
    final: bool = False
