"""Step 5 — tally: the quadratic-voting result of one round (voter → gate)."""

from __future__ import annotations

from schemas.base import Event, Struct


class ProposalScore(Struct, frozen=True, kw_only=True):
    proposal_id: str
    seat: int
    agent_id: str
    score: float  # A[j]
    net_support: float  # A[j] / ballots covering j
    controversy: float  # variance of s[i, j] over reviewers i
    ballots: int


class TallyComputed(Event, tag="tally.computed", frozen=True, kw_only=True):
    scores: tuple[ProposalScore, ...]
    votes: dict[int, dict[str, float]]  # reviewer seat -> proposal_id -> vote s[i, j]
    winner: str | None
    winner_seat: int | None = None
    conviction: float = 0.0
    ok_proposals: int = 0
    valid_ballots: int = 0
    quorum_met: bool = False
    unanimous: bool = False
