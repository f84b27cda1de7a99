"""Step 2 — propose: ``ProposeRequested`` (broker → agent) and ``ProposalSubmitted`` (agent →
reviewer), plus the bounded ``ConsensusState`` that each round carries forward."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.base import AgentId, Event, Struct, Usage
from schemas.limits import (
    FEEDBACK_LINE_CHARS,
    FEEDBACK_LINES,
    STATE_ITEM_CHARS,
    STATE_ITEMS,
    Answer,
    Content,
    Count,
    Duration,
    Epoch,
    ErrorText,
    Finite,
    Id,
    Label,
    Name,
    Reasoning,
    RoundNumber,
    RunnerNotes,
    SeatNumber,
    text,
)
from schemas.task import RoleInstruction, TaskView

# ``peer``: a previous-round proposal in full, carried by the moa and debate protocols.
ItemKind = Literal["winner", "alternative", "critique", "claim", "peer"]
# ``no_answer``: the model answered, but its text states no final answer in the task's
# format (services/core/answers.py); nothing to vote on, and its author still reviews.
CallStatus = Literal["ok", "skip", "error", "no_answer"]
# The proposals whose authors review the round's ok proposals.
REVIEWING: frozenset[CallStatus] = frozenset({"ok", "no_answer"})


class StateItem(Struct, frozen=True, kw_only=True):
    """One entry of the consensus state h_t (§5.4)."""

    kind: ItemKind
    text: Annotated[str, text(STATE_ITEM_CHARS)]
    retention: Finite
    tokens: Count
    answer: Answer | None = None
    source: Id | None = None  # the proposal this item came from or concerns
    round: RoundNumber = 0
    # How well the council rated it in its round, in [0, 1] (0: no positive support).
    support: Finite = 0.0


class ConsensusState(Struct, frozen=True, kw_only=True):
    """The bounded state carried from round t to t+1; ``tokens`` ≤ the state budget."""

    round: RoundNumber = 0
    items: Annotated[tuple[StateItem, ...], msgspec.Meta(max_length=STATE_ITEMS)] = ()
    tokens: Count = 0

    def winner(self) -> StateItem | None:
        return next((item for item in self.items if item.kind == "winner"), None)


class ProposeRequested(Event, tag="propose.requested", frozen=True, kw_only=True):
    seat: SeatNumber
    agent_id: AgentId
    role: Label = "member"  # "aggregator" for the final seat of the moa protocol
    # The policy's instruction for this seat's role (``services.core.roles``), if it has one.
    role_instruction: RoleInstruction | None = None
    task: TaskView
    state: ConsensusState | None = None
    feedback: Annotated[
        tuple[Annotated[str, text(FEEDBACK_LINE_CHARS)], ...],
        msgspec.Meta(max_length=FEEDBACK_LINES),
    ] = ()
    previous_answer: Answer | None = None  # this seat's own previous extracted answer
    deadline: Epoch
    protocol: Label = "nsed"  # the task's Policy.protocol: which prompt the agent is given


class ProposalSubmitted(Event, tag="proposal.submitted", frozen=True, kw_only=True):
    proposal_id: Id
    seat: SeatNumber
    agent_id: AgentId
    instance_id: Name = ""
    model: Name = ""
    content: Content = ""
    reasoning: Reasoning | None = None
    extracted_answer: Answer | None = None
    usage: Usage = Usage()
    latency_s: Duration = 0.0
    status: CallStatus = "ok"
    error: ErrorText | None = None
    simulated: bool = False
    # What the runner did to the model's output to fit it in the bounds above (a field cut
    # to its limit), or anything else a reader of the proposal should know.
    notes: RunnerNotes = ()
