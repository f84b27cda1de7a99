"""What a deliberation record calls for from the broker (pure: no NATS, no clock).

``opening_messages``, ``redispatch``, ``continued_round`` and ``dispatch_round`` are the
messages a record calls for: the team, the task-deadline timer and one
``ProposeRequested`` per seat (with its role's instruction, for that seat alone) and the
round's phase timer (debate: each seat's state leaves out its own proposal). The same
record always gives the same messages, with the same ids, which is what makes intake and
dispatch safe to repeat.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.gate import DeliberationConcluded
from schemas.outputs import Dispatch
from schemas.propose import ConsensusState, ProposeRequested
from schemas.record import DeliberationRecord
from schemas.task import TaskView
from schemas.timers import PhaseDue
from services.core import ids, roles
from services.core.timers import phase_due
from services.core.tokens import PREVIOUS_ANSWER_TOKENS, truncate_to_tokens


def opening_messages(record: DeliberationRecord) -> Sequence[Dispatch]:
    """Everything intake emits: the team, the task deadline timer and round 1's dispatch."""
    out: list[Dispatch] = []
    if record.team_selected is not None:
        out.append(record.team_selected)
    out.append(phase_due(record.task_id, 0, "task", "gate", record.deadline_at))
    out.extend(dispatch_round(record))
    return out


def redispatch(record: DeliberationRecord) -> Sequence[Dispatch | DeliberationConcluded]:
    """What intake emits again for a task it has seen: only while round 1 is still open."""
    if record.result is not None and record.result.stop_reason == "no_team":
        return [record.result]
    if record.current.number == 1 and record.current.phase == "proposing":
        return opening_messages(record)
    return []


def continued_round(record: DeliberationRecord) -> Sequence[Dispatch]:
    """What a continued round calls for: its team when the broker re-selected it, then
    the round's dispatch."""
    out: list[Dispatch] = []
    team = record.team_selected
    if team is not None and team.round == record.current.number:
        out.append(team)
    return [*out, *dispatch_round(record)]


def dispatch_round(record: DeliberationRecord) -> list[ProposeRequested | PhaseDue]:
    """One ``ProposeRequested`` per seat of the current round, and the phase timer."""
    current = record.current
    task = record.task
    view = TaskView.of(record.task_id, task)
    out: list[ProposeRequested | PhaseDue] = [
        ProposeRequested(
            task_id=record.task_id,
            round=current.number,
            message_id=ids.propose(record.task_id, current.number, seat.seat),
            seat=seat.seat,
            agent_id=seat.agent_id,
            role=seat.role,
            role_instruction=roles.instruction(task.policy, seat.role),
            task=view,
            state=_state_for(record, seat.seat),
            feedback=record.feedback.get(seat.seat, ()),
            previous_answer=_previous(record.previous_answers.get(seat.seat)),
            deadline=current.phase_deadline,
            protocol=task.policy.protocol,
        )
        for seat in current.team
    ]
    out.append(
        phase_due(record.task_id, current.number, "proposing", "reviewer", current.phase_deadline)
    )
    return out


def _state_for(record: DeliberationRecord, seat: int) -> ConsensusState | None:
    """What a seat is shown of the previous round: nsed's bounded consensus state; the
    previous round's proposals in full for moa; for debate, those of every other seat."""
    state = record.state
    if record.current.number <= 1:
        return None
    if record.task.policy.protocol != "debate":
        return state
    own = ids.proposal_ref(record.task_id, state.round, seat)
    items = tuple(item for item in state.items if item.source != own)
    return ConsensusState(round=state.round, items=items, tokens=sum(i.tokens for i in items))


def _previous(answer: str | None) -> str | None:
    return None if answer is None else truncate_to_tokens(answer, PREVIOUS_ANSWER_TOKENS)
