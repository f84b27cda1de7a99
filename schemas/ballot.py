"""Step 4 — ballot: the reviewer's validated ballot (reviewer → voter).

Exactly one ``BallotAccepted`` is emitted per seat and round: a valid ballot, or an invalid
one whose ``notes`` say why (no valid entry, review error, timed out, not a reviewer). The
voter tallies when every seat has one, so the fan-in never waits on a ballot that cannot come.
"""

from __future__ import annotations

import msgspec

from schemas.base import AgentId, Event, Struct
from schemas.review import Verdict


class ClaimCheck(Struct, frozen=True, kw_only=True):
    proposal_id: str
    quote: str
    verdict: Verdict


class Critique(Struct, frozen=True, kw_only=True):
    proposal_id: str
    weight: float
    text: str


class BallotAccepted(Event, tag="ballot.accepted", frozen=True, kw_only=True):
    seat: int
    agent_id: AgentId
    valid: bool
    # real proposal_id -> weight in [-100, 100]
    weights: dict[str, float] = msgspec.field(default_factory=dict)
    critiques: tuple[Critique, ...] = ()
    claims: tuple[ClaimCheck, ...] = ()
    notes: tuple[str, ...] = ()
    dropped_entries: int = 0
    ungrounded_quotes: int = 0
    # Published once every seat had its ballot: the voter tallies on this one and skips
    # reading the record for the others.
    final: bool = False
