"""Step 5 — tally: the quadratic-voting result of one round (voter → gate), with the
round's ballots for watchers (the record keeps its tally without that copy: the record
holds the ballots already)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.ballot import Ballot
from schemas.base import Event, Struct
from schemas.limits import (
    ANSWER_CHARS,
    ID_CHARS,
    MAX_READING_TEAM,
    MAX_TEAM,
    Answer,
    Count,
    Finite,
    Id,
    Label,
    SeatNumber,
    text,
)

Ids = Annotated[tuple[Id, ...], msgspec.Meta(max_length=MAX_TEAM)]


class ProposalScore(Struct, frozen=True, kw_only=True):
    proposal_id: Id
    seat: SeatNumber
    agent_id: Label
    score: Finite  # A[j]
    net_support: Finite  # A[j] / ballots covering j
    controversy: Finite  # variance of s[i, j] over reviewers i
    ballots: Count


class OptionScore(Struct, frozen=True, kw_only=True):
    """One option the round voted on: an answer (all proposals giving it), or for free
    text a single proposal."""

    # "answer:" and the answer's normal form (a number's canonical digits), or "proposal:"
    # and the proposal id.
    key: Annotated[str, text(ANSWER_CHARS + ID_CHARS)]
    answer: Answer | None
    proposals: Ids  # proposal ids, in submission order
    score: Finite  # A[o]
    net_support: Finite  # A[o] / ballots covering it
    ballots: Count


class TallyComputed(Event, tag="tally.computed", frozen=True, kw_only=True):
    scores: Annotated[tuple[ProposalScore, ...], msgspec.Meta(max_length=MAX_TEAM)]
    # reviewer seat -> proposal_id -> vote s[i, j]
    votes: Annotated[
        dict[SeatNumber, Annotated[dict[Id, Finite], msgspec.Meta(max_length=MAX_READING_TEAM)]],
        msgspec.Meta(max_length=MAX_READING_TEAM),
    ]
    winner: Id | None  # the leading option's best proposal, supported or not
    winner_seat: SeatNumber | None = None
    conviction: Finite = 0.0  # the leading option's share of all positive score
    ok_proposals: Count = 0
    valid_ballots: Count = 0  # ballots that counted (valid and stating a preference)
    quorum_met: bool = False
    unanimous: bool = False
    options: Annotated[tuple[OptionScore, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()
    winner_answer: Answer | None = None
    supported: bool = False  # the leading option's score is positive
    # seats whose valid ballots stated no preference
    abstained: Annotated[tuple[SeatNumber, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()
    # Every seat's ballot, in seat order, as published (empty in the record's own copy):
    # who balloted and with what weights, for ``nsed watch`` and the web timeline.
    ballots: Annotated[tuple[Ballot, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()
