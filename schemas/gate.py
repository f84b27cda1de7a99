"""Step 6 — gate: ``RoundContinued`` (gate → broker) or ``DeliberationConcluded`` (→ client)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.base import Event, Struct, Usage
from schemas.limits import (
    DETAIL_CHARS,
    MAX_ROUND_NUMBER,
    MAX_TEAM,
    Answer,
    Content,
    Count,
    Id,
    Label,
    Reason,
    RoundNotes,
    RoundNumber,
    Usd,
    Warnings,
    text,
)
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

    reason: Reason = ""


class RoundContinued(Event, tag="round.continued", frozen=True, kw_only=True):
    next_round: RoundNumber
    state: ConsensusState
    evidence: float = 0.0
    spend_usd: Usd = 0.0
    reason: Reason = ""


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

    proposals: Count = 0
    answered: Count = 0
    reviews: Count = 0
    valid_reviews: Count = 0


class RoundSummary(Struct, frozen=True, kw_only=True):
    round: RoundNumber
    winner: Id | None  # proposal id
    winner_agent: Label | None
    answer: Answer | None  # the winner's extracted answer
    conviction: float
    scores: Annotated[dict[Label, float], msgspec.Meta(max_length=MAX_TEAM)]  # agent_id -> A
    state_tokens: Count
    ok_proposals: Count
    valid_ballots: Count
    quorum_met: bool
    unanimous: bool = False
    supported: bool = False  # the winner's option had a positive score
    degraded: bool = False  # a timeout, a missing ballot or no quorum in this round
    evidence: float = 0.0  # E(r) after this round
    duration_s: float = 0.0  # from the round's dispatch to its close
    # per agent, this round
    usage: Annotated[dict[Label, Usage], msgspec.Meta(max_length=MAX_TEAM)] = msgspec.field(
        default_factory=dict
    )
    cost_usd: Usd = 0.0  # this round, all agents
    notes: RoundNotes = ()
    quality: Quality = Quality()


class DeliberationConcluded(Event, tag="deliberation.concluded", frozen=True, kw_only=True):
    status: Status
    stop_reason: StopReason
    answer: Content | None = None
    extracted_answer: Answer | None = None
    winner_agent: Label | None = None
    rounds: RoundNumber = 0
    summaries: Annotated[tuple[RoundSummary, ...], msgspec.Meta(max_length=MAX_ROUND_NUMBER)] = ()
    team: Annotated[tuple[Seat, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()
    # agent_id -> usage: every agent that held a seat in any round
    usage: Annotated[dict[Label, Usage], msgspec.Meta(max_length=MAX_TEAM * MAX_ROUND_NUMBER)] = (
        msgspec.field(default_factory=dict)
    )
    total: Usage = Usage()
    cost_usd: Usd = 0.0
    trace_id: Label | None = None
    correct: bool | None = None
    selection: TeamSelected | None = None  # the last team selection: objective, solver status
    halting: Halting | None = None
    simulated: bool = False
    detail: Annotated[str, text(DETAIL_CHARS)] = ""
    elapsed_s: float = 0.0
    warnings: Warnings = ()  # as on TeamSelected: the task's unknown fields, ignored
    # Summed over the rounds, the round a deadline cut short included.
    quality: Quality = Quality()
