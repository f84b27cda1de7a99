"""Step 2 — propose: ``ProposeRequested`` (broker → agent) and ``ProposalSubmitted`` (agent →
reviewer), plus the bounded ``ConsensusState`` that each round carries forward."""

from __future__ import annotations

from typing import Literal

from schemas.base import AgentId, Event, Struct, Usage
from schemas.task import TaskView

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
    text: str
    retention: float
    tokens: int
    answer: str | None = None
    source: str | None = None  # the proposal this item came from or concerns
    round: int = 0
    # How well the council rated it in its round, in [0, 1] (0: no positive support).
    support: float = 0.0


class ConsensusState(Struct, frozen=True, kw_only=True):
    """The bounded state carried from round t to t+1; ``tokens`` ≤ the state budget."""

    round: int = 0
    items: tuple[StateItem, ...] = ()
    tokens: int = 0

    def winner(self) -> StateItem | None:
        return next((item for item in self.items if item.kind == "winner"), None)


class ProposeRequested(Event, tag="propose.requested", frozen=True, kw_only=True):
    seat: int
    agent_id: AgentId
    role: str = "member"  # "aggregator" for the final seat of the moa protocol
    # The policy's instruction for this seat's role (``services.core.roles``), if it has one.
    role_instruction: str | None = None
    task: TaskView
    state: ConsensusState | None = None
    feedback: tuple[str, ...] = ()
    previous_answer: str | None = None  # this seat's own previous extracted answer
    deadline: float
    protocol: str = "nsed"  # the task's Policy.protocol: which prompt the agent is given


class ProposalSubmitted(Event, tag="proposal.submitted", frozen=True, kw_only=True):
    proposal_id: str
    seat: int
    agent_id: AgentId
    instance_id: str = ""
    model: str = ""
    content: str = ""
    reasoning: str | None = None
    extracted_answer: str | None = None
    usage: Usage = Usage()
    latency_s: float = 0.0
    status: CallStatus = "ok"
    error: str | None = None
    simulated: bool = False
