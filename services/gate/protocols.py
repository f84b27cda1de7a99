"""The gate's side of the protocols without review — vote, moa, debate (pure).

Consumes a gating record, tallied by ``qv.plurality``. Emits what the round carries to the
next (the ``peer`` state: the round's ok proposals in full, agent and model names masked,
in seat order; debate's broker leaves out each seat's own), the next round's team and the
``Decision``:

    vote    stop after round 1 (``max_rounds``, "vote: one round")
    debate  ``max_rounds`` at max_rounds; ``converged`` at or after min_rounds when every
            ok proposal gives one answer; else another round
    moa     rounds 1..max_rounds are layers; then one round of a single aggregator seat
            (the member with the highest p_g, ties to the lowest seat), whose proposal is
            the answer (``max_rounds``, "moa: aggregated")

Every protocol keeps ``no_quorum`` (no ok proposal) and the ``budget`` and ``deadline``
stops (``halting.limits``); the efficiency–fatigue halting is nsed's alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from schemas.propose import ConsensusState, ProposalSubmitted, StateItem
from schemas.record import DeliberationRecord
from schemas.tally import TallyComputed
from schemas.team import DomainPrior, Seat
from services.core.tokens import estimate_tokens
from services.gate import halting

AGGREGATOR = "aggregator"


def peer_state(masked: Sequence[ProposalSubmitted], round_number: int) -> ConsensusState:
    """The round's ok proposals (already masked) as ``peer`` items, in full."""
    items = tuple(
        StateItem(
            kind="peer",
            text=p.content,
            retention=1.0,
            tokens=estimate_tokens(p.content),
            answer=p.extracted_answer,
            source=p.proposal_id,
            round=round_number,
        )
        for p in sorted(masked, key=lambda p: p.seat)
    )
    return ConsensusState(round=round_number, items=items, tokens=sum(i.tokens for i in items))


def aggregating(record: DeliberationRecord) -> bool:
    """The current round is moa's aggregator round (the one after the last layer)."""
    policy = record.task.policy
    return policy.protocol == "moa" and record.current.number > policy.max_rounds


def aggregator(team: Sequence[Seat]) -> tuple[Seat, ...]:
    """The aggregator's seat: the member with the highest p_g as seated (an unknown one
    counts as the neutral prior), ties to the lowest seat number."""
    if not team:
        return ()
    neutral = DomainPrior().p_g
    best = min(team, key=lambda s: (-(neutral if s.p_g is None else s.p_g), s.seat))
    return (msgspec.structs.replace(best, role=AGGREGATOR),)


def next_team(record: DeliberationRecord) -> tuple[tuple[Seat, ...], bool]:
    """The next round's team, and whether the broker re-selects it (members may have
    left). The aggregator's seat is fixed: if its agent is gone the round times out, and
    the answer stays the last layer's plurality (degraded)."""
    cur = record.current
    policy = record.task.policy
    if policy.protocol == "moa" and cur.number == policy.max_rounds:
        return aggregator(cur.team), False
    return cur.team, True


def result_team(record: DeliberationRecord) -> tuple[Seat, ...]:
    """The team a result reports: moa's layers' team, not its aggregator seat alone."""
    if aggregating(record) and record.team_selected is not None:
        return record.team_selected.seats
    return record.current.team


def decide(
    record: DeliberationRecord,
    tally: TallyComputed,
    *,
    now: float,
    round_duration_s: float,
    spend_usd: float,
    round_cost_usd: float,
) -> halting.Decision:
    """Stop or continue after the current round of a vote, moa or debate."""
    policy = record.task.policy
    number = record.current.number
    if not tally.quorum_met:
        return halting.Decision(True, "no_quorum", "no ok proposal")
    if policy.protocol == "vote":
        return halting.Decision(True, "max_rounds", "vote: one round")
    if policy.protocol == "moa":
        if aggregating(record):
            return halting.Decision(True, "max_rounds", "moa: aggregated")
        note = (
            "moa: the aggregator's round"
            if number >= policy.max_rounds
            else f"moa: layer {number + 1} of {policy.max_rounds}"
        )
    else:
        if number >= policy.max_rounds:
            return halting.Decision(True, "max_rounds", f"round {number} of {policy.max_rounds}")
        if number >= policy.min_rounds and tally.unanimous:
            return halting.Decision(True, "converged", "every ok proposal gives one answer")
        note = f"debate: round {number + 1} of {policy.max_rounds}"
    limit = halting.limits(
        policy, now, record.deadline_at, round_duration_s, spend_usd, round_cost_usd
    )
    return limit or halting.Decision(False, note=note)
