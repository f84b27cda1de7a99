"""What a handled message's span is called and what it carries, read off the message and
the handler's outputs (handlers themselves never touch OpenTelemetry).

Names: ``intake``, ``dispatch``, ``propose <agent>``, ``review <agent>``,
``gather proposal`` / ``open review``, ``count ballot`` / ``tally`` (a review: the voter
validates it into its seat's ballot, and tallies on the last), ``tally`` (voting opened),
``gate``, ``timer <phase>``. Attributes: ``nsed.task_id``, ``nsed.round``,
``nsed.agent_id``, ``nsed.phase``; the winner, conviction and per-proposal scores on the
tally span; the decision, evidence and state tokens on the gate span.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace

from schemas.ballot import VotingOpened
from schemas.base import Message
from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskSubmitted
from schemas.timers import PhaseDue

PHASES: dict[type, str] = {
    TaskSubmitted: "intake",
    RoundContinued: "dispatch",
    ProposeRequested: "propose",
    ReviewRequested: "review",
    ProposalSubmitted: "proposing",
    ReviewSubmitted: "reviewing",
    VotingOpened: "voting",
    TallyComputed: "gating",
    PhaseDue: "timer",
}


def name_for(message: Any, outputs: Sequence[Message]) -> str:
    kinds = {type(m) for m in outputs}
    if isinstance(message, TaskSubmitted):
        return "intake"
    if isinstance(message, RoundContinued):
        return "dispatch"
    if isinstance(message, ProposeRequested):
        return f"propose {message.agent_id}"
    if isinstance(message, ReviewRequested):
        return f"review {message.agent_id}"
    if isinstance(message, ProposalSubmitted):
        return "open review" if ReviewRequested in kinds else "gather proposal"
    if isinstance(message, ReviewSubmitted | VotingOpened):
        return "tally" if TallyComputed in kinds else "count ballot"
    if isinstance(message, TallyComputed):
        return "gate"
    if isinstance(message, PhaseDue):
        return f"timer {message.phase}"
    if isinstance(message, CancelRequested):
        return "cancel"
    return type(message).__name__


def annotate(span: trace.Span, message: Any, outputs: Sequence[Message]) -> None:
    span.update_name(name_for(message, outputs))
    phase = PHASES.get(type(message))
    if phase:
        span.set_attribute("nsed.phase", phase)
    for out in outputs:
        if isinstance(out, TallyComputed):
            _tally(span, out)
        elif isinstance(out, RoundContinued):
            span.set_attribute("nsed.decision", "continue")
            span.set_attribute("nsed.evidence", out.evidence)
            span.set_attribute("nsed.state_tokens", out.state.tokens)
        elif isinstance(out, DeliberationConcluded):
            span.set_attribute("nsed.decision", out.stop_reason)
            span.set_attribute("nsed.status", out.status)
            if out.halting is not None:
                span.set_attribute("nsed.evidence", out.halting.evidence)
            if out.summaries:
                span.set_attribute("nsed.state_tokens", out.summaries[-1].state_tokens)
        elif isinstance(out, ProposalSubmitted | ReviewSubmitted):
            span.set_attribute("nsed.status", out.status)


def _tally(span: trace.Span, tally: TallyComputed) -> None:
    winner = next((s for s in tally.scores if s.proposal_id == tally.winner), None)
    span.set_attribute("nsed.winner", tally.winner or "")
    span.set_attribute("nsed.winner_agent", winner.agent_id if winner else "")
    span.set_attribute("nsed.conviction", tally.conviction)
    span.set_attribute("nsed.quorum_met", tally.quorum_met)
    span.set_attribute("nsed.score_agents", [s.agent_id for s in tally.scores])
    span.set_attribute("nsed.scores", [s.score for s in tally.scores])
