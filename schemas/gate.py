"""Step 6 — gate: ``RoundContinued`` (gate → broker) or ``DeliberationConcluded`` (→ client)."""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.base import Event, Struct, Usage
from schemas.propose import ConsensusState
from schemas.team import Seat, TeamSelected

Status = Literal["completed", "degraded", "failed", "cancelled"]
StopReason = Literal[
    "converged",
    "evidence",
    "fatigue",
    "efficiency",
    "max_rounds",
    "deadline",
    "budget",
    "no_quorum",
    "no_consensus",
    "no_team",
    "cancelled",
    "error",
]


class CancelRequested(Event, tag="task.cancel_requested", frozen=True, kw_only=True):
    """A client asks to stop a task (``nsed.events.<task_id>.cancel``): the gate ends it
    as ``cancelled`` at once, with the best answer it has and what it cost so far; no
    further round is dispatched, and runners skip work for it that has not started."""

    reason: str = ""


class RoundContinued(Event, tag="round.continued", frozen=True, kw_only=True):
    next_round: int
    state: ConsensusState
    evidence: float = 0.0
    spend_usd: float = 0.0
    reason: str = ""


class Halting(Struct, frozen=True, kw_only=True):
    """The efficiency–fatigue model of the team (§5.5) and where the deliberation stood."""

    p_g: float
    p_v: float
    lam: float  # Λ
    beta: float  # β
    k: float  # Λ·(2·p_v − 1): ≤ 0 when reviews carry no signal (p_v ≤ 0.5)
    # The best round, W₀((1 − p_g)·k² / (2β)) / k; None when β = 0: U then has no peak
    # (T_opt = ∞), and JSON has no number for ∞.
    t_opt: float | None
    signal: float  # B = U(T_opt) − U(0)
    evidence: float  # E(r) after the last round
    target: float  # ε·B: the evidence that stops the deliberation


class Quality(Struct, frozen=True, kw_only=True):
    """What the members' output was worth to the council, counted over calls that came
    back (a timed-out seat is not counted): ``proposals`` received and of them ``answered``
    (an answer extracted: status ok; no_answer and error are not); ``reviews`` received
    from seats asked to review and of them ``valid_reviews`` (the ballot validated; an
    unreadable or failed review is not valid). Shares: answered / proposals,
    valid_reviews / reviews."""

    proposals: int = 0
    answered: int = 0
    reviews: int = 0
    valid_reviews: int = 0


class RoundSummary(Struct, frozen=True, kw_only=True):
    round: int
    winner: str | None  # proposal id
    winner_agent: str | None
    answer: str | None  # the winner's extracted answer
    conviction: float
    scores: dict[str, float]  # agent_id -> A
    state_tokens: int
    ok_proposals: int
    valid_ballots: int
    quorum_met: bool
    unanimous: bool = False
    supported: bool = False  # the winner's option had a positive score
    degraded: bool = False  # a timeout, a missing ballot or no quorum in this round
    evidence: float = 0.0  # E(r) after this round
    duration_s: float = 0.0  # from the round's dispatch to its close
    usage: dict[str, Usage] = msgspec.field(default_factory=dict)  # per agent, this round
    cost_usd: float = 0.0  # this round, all agents
    notes: tuple[str, ...] = ()
    quality: Quality = Quality()


class DeliberationConcluded(Event, tag="deliberation.concluded", frozen=True, kw_only=True):
    status: Status
    stop_reason: StopReason
    answer: str | None = None
    extracted_answer: str | None = None
    winner_agent: str | None = None
    rounds: int = 0
    summaries: tuple[RoundSummary, ...] = ()
    team: tuple[Seat, ...] = ()
    usage: dict[str, Usage] = msgspec.field(default_factory=dict)  # agent_id -> usage
    total: Usage = Usage()
    cost_usd: float = 0.0
    trace_id: str | None = None
    correct: bool | None = None
    selection: TeamSelected | None = None  # the last team selection: objective, solver status
    halting: Halting | None = None
    simulated: bool = False
    detail: str = ""
    elapsed_s: float = 0.0
    warnings: tuple[str, ...] = ()  # as on TeamSelected: the task's unknown fields, ignored
    # Summed over the rounds, the round a deadline cut short included.
    quality: Quality = Quality()
