"""The gate's record transitions (pure): a tallied round → the next round, or the result.

``close_round`` folds the round into the consensus state and per-seat feedback, adds the
round's evidence ΔE(r) = max(c_r, 0)·(U(r) − U(r−1)), writes the round summary (with its
usage and cost), asks ``halting.decide`` and either opens round r+1 (phase ``proposing``)
with its ``RoundContinued`` or concludes with the one ``DeliberationConcluded``. The
protocols without review (vote, moa, debate) carry the round's proposals in full instead,
and ``protocols.decide`` stops them.
``early.conclude_at_deadline`` ends a deliberation whose deadline passed with the best answer it
has, marked ``degraded``.
"""

from __future__ import annotations

import math

import msgspec

from schemas.base import Usage
from schemas.gate import (
    DeliberationConcluded,
    Halting,
    RoundContinued,
    Status,
    StopReason,
)
from schemas.limits import CHARS_PER_TOKEN, CONTENT_CHARS, DETAIL_CHARS
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord, RoundState
from schemas.task import Policy
from schemas.team import DomainPrior
from services._runtime.tracing import trace_id_of
from services.core import ids
from services.core.answers import same_answer
from services.core.fencing import mask_identities
from services.core.instructions import drop_instructions
from services.core.tokens import shorten_middle, truncate_to_tokens
from services.gate import forget_gate, halting, protocols
from services.gate.settings import GateSettings
from services.gate.summary import quality, summarize, total

replace = msgspec.structs.replace
CONTENT_TOKENS = CONTENT_CHARS // CHARS_PER_TOKEN


def fatigue_model(record: DeliberationRecord, settings: GateSettings) -> halting.FatigueModel:
    """The team's model: the mean of its members' (p_g, p_v) as estimated when seated."""
    neutral = DomainPrior()  # for a member seated without an estimate
    precisions = [
        (neutral.p_g if s.p_g is None else s.p_g, neutral.p_v if s.p_v is None else s.p_v)
        for s in record.current.team
    ]
    return halting.team_model(precisions, settings.fatigue_lambda, settings.fatigue_beta)


def halting_info(
    record: DeliberationRecord, model: halting.FatigueModel, evidence: float
) -> Halting:
    t_opt = model.t_opt()
    return Halting(
        p_g=round(model.p_g, 6),
        p_v=round(model.p_v, 6),
        lam=model.lam,
        beta=model.beta,
        k=round(model.k, 6),
        t_opt=round(t_opt, 6) if math.isfinite(t_opt) else None,
        signal=round(model.signal(), 6),
        evidence=round(evidence, 6),
        target=round(record.task.policy.effort * model.signal(), 6),
    )


def close_round(
    record: DeliberationRecord, now: float, settings: GateSettings
) -> DeliberationRecord | None:
    cur = record.current
    tally = cur.tally
    if record.done or cur.phase != "gating" or tally is None:
        return None
    policy = record.task.policy
    reviewed = policy.protocol == "nsed"  # the others: services/gate/protocols.py
    ok = cur.ok_proposals()
    valid = [b for b in cur.ballots if b.valid]
    # The state is shown to every member next round: it carries no agent or model names,
    # and no line an agent addressed to the council (core.instructions); a text that names
    # members is no longer for it than any proposal may be.
    names = [s.agent_id for s in cur.team] + [p.model for p in cur.proposals if p.model]
    masked = [
        replace(
            p,
            content=shorten_middle(
                drop_instructions(mask_identities(p.content, names)), CONTENT_TOKENS
            ),
        )
        for p in ok
    ]
    outcome = forget_gate.RoundOutcome(
        round=cur.number,
        proposals=masked,
        support={s.proposal_id: s.net_support for s in tally.scores},
        controversy={s.proposal_id: s.controversy for s in tally.scores},
        winner=tally.winner,
        critiques=[replace(c, text=drop_instructions(c.text)) for b in valid for c in b.critiques],
        claims=[c for b in valid for c in b.claims],
        answer_format=record.task.answer_format,
    )
    model = fatigue_model(record, settings)
    if reviewed:
        state = forget_gate.fold(record.state, outcome, gate_config(policy, settings))
        evidence = record.evidence + (model.gain(cur.number, tally.conviction) if ok else 0.0)
    else:
        state, evidence = protocols.peer_state(masked, cur.number), record.evidence
    summary = summarize(cur, tally, state.tokens, evidence, now)
    leader = next((p for p in ok if p.proposal_id == tally.winner), None)
    # The answer is what the record needs of the winner; its reasoning stays in the events.
    # Only a supported winner becomes the answer; an unsupported leader is kept apart, to
    # answer with (as no_consensus) if no round ever supports one.
    leader = replace(leader, reasoning=None) if leader else None
    supported = leader if tally.supported else None
    limits = {
        "now": now,
        "round_duration_s": max(now - cur.started_at, 0.0),
        "spend_usd": record.spend_usd(),
        "round_cost_usd": summary.cost_usd,
    }
    decision = (
        halting.decide(
            round_number=cur.number,
            policy=policy,
            tally=tally,
            model=model,
            evidence=evidence,
            deadline_at=record.deadline_at,
            min_gain=settings.min_gain,
            **limits,
        )
        if reviewed
        else protocols.decide(record, tally, **limits)
    )
    closed = replace(
        record,
        summaries=(*record.summaries, summary),
        state=state,
        last_winner=supported or record.last_winner,
        last_leader=None if supported else leader or record.last_leader,
        evidence=evidence,
    )
    if decision.stop:
        assert decision.reason is not None
        info = halting_info(closed, model, evidence) if reviewed else None
        return conclude(closed, decision.reason, decision.note, now, info)
    seat_of = {p.proposal_id: p.seat for p in cur.proposals}
    next_round = cur.number + 1
    deadline = min(now + record.phase_timeout_s, record.deadline_at)
    team, reselect = protocols.next_team(record)
    return replace(
        closed,
        feedback=forget_gate.feedback(
            outcome.critiques, outcome.claims, seat_of, policy.feedback_token_budget
        ),
        previous_answers={
            **record.previous_answers,
            **{p.seat: p.extracted_answer for p in ok if p.extracted_answer is not None},
        },
        current=RoundState(
            number=next_round,
            phase="proposing",
            phase_deadline=deadline,
            team=team,
            started_at=now,
            selected=not reselect,  # the broker re-selects (members may have left), dispatches
        ),
        continued=RoundContinued(
            task_id=record.task_id,
            round=cur.number,
            message_id=ids.continued(record.task_id, cur.number),
            next_round=next_round,
            state=state,
            evidence=round(evidence, 6),
            spend_usd=round(record.spend_usd(), 8),
            reason=decision.note,
        ),
    )


def gate_config(policy: Policy, settings: GateSettings) -> forget_gate.GateConfig:
    return forget_gate.GateConfig(
        gamma=policy.gamma,
        state_token_budget=policy.state_token_budget,
        feedback_token_budget=policy.feedback_token_budget,
        floor=settings.retention_floor,
    )


def conclude(
    record: DeliberationRecord,
    reason: StopReason,
    note: str,
    now: float,
    halting_state: Halting | None = None,
) -> DeliberationRecord:
    winner: ProposalSubmitted | None = record.last_winner
    degraded_round = any(s.degraded for s in record.summaries)
    status: Status
    if winner is None and record.last_leader is not None:
        # Proposals came, but no round gave any of them positive support: answer with the
        # best-rated one, and say that the council did not back it.
        winner, status = record.last_leader, "degraded"
        # Too few proposals or ballots to vote, or no time to, says more than no_consensus.
        if reason not in ("no_quorum", "deadline", "cancelled"):
            note = f"no proposal had positive support ({reason}: {note})"
            reason = "no_consensus"
    elif winner is None:
        status = "failed"
    elif (
        degraded_round
        or reason in ("no_quorum", "error")
        or (reason == "deadline" and record.current.phase not in ("gating", "done"))
    ):
        status = "degraded"
    else:
        status = "completed"
    if reason == "cancelled":
        status = "cancelled"  # whatever it had: the client stopped it
    notes = [n for s in record.summaries for n in s.notes]
    # Every round's notes are in its summary; the detail is their digest.
    detail = truncate_to_tokens("; ".join([note, *notes]), DETAIL_CHARS // CHARS_PER_TOKEN)
    reference = record.task.reference_answer
    spent = sum(record.usage.values(), Usage())
    rounds = [s.quality for s in record.summaries]
    if record.current.number not in {s.round for s in record.summaries}:
        rounds.append(quality(record.current))  # cut short by the deadline: what came back
    result = DeliberationConcluded(
        task_id=record.task_id,
        round=record.current.number,
        message_id=ids.result(record.task_id),
        status=status,
        stop_reason=reason,
        answer=winner.content if winner else None,
        extracted_answer=winner.extracted_answer if winner else None,
        winner_agent=winner.agent_id if winner else None,
        rounds=len(record.summaries),
        summaries=record.summaries,
        team=protocols.result_team(record),
        usage=dict(record.usage),
        total=spent,
        cost_usd=round(spent.cost_usd, 8),
        trace_id=trace_id_of(record.traceparent),
        # Without an answer there is nothing to grade: neither right nor wrong.
        correct=(
            same_answer(winner.extracted_answer, reference, record.task.answer_format)
            if reference is not None and winner is not None
            else None
        ),
        selection=record.team_selected,
        halting=halting_state,
        simulated=record.simulated,
        detail=detail,
        elapsed_s=round(now - record.created_at, 3),
        warnings=record.warnings,
        quality=total(rounds),
    )
    return replace(record, current=replace(record.current, phase="done"), result=result)
