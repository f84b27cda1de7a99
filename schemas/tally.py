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


class OptionScore(Struct, frozen=True, kw_only=True):
    """One option the round voted on: an answer (all proposals giving it), or for free
    text a single proposal."""

    key: str
    answer: str | None
    proposals: tuple[str, ...]  # proposal ids, in submission order
    score: float  # A[o]
    net_support: float  # A[o] / ballots covering it
    ballots: int


class TallyComputed(Event, tag="tally.computed", frozen=True, kw_only=True):
    scores: tuple[ProposalScore, ...]
    votes: dict[int, dict[str, float]]  # reviewer seat -> proposal_id -> vote s[i, j]
    winner: str | None  # the leading option's best proposal, supported or not
    winner_seat: int | None = None
    conviction: float = 0.0  # the leading option's share of all positive score
    ok_proposals: int = 0
    valid_ballots: int = 0  # ballots that counted (valid and stating a preference)
    quorum_met: bool = False
    unanimous: bool = False
    options: tuple[OptionScore, ...] = ()
    winner_answer: str | None = None
    supported: bool = False  # the leading option's score is positive
    abstained: tuple[int, ...] = ()  # seats whose valid ballots stated no preference
