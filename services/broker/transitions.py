"""The broker's record transitions and what they emit (pure: no NATS, no clock).

``new_record`` turns an accepted task and its selected team (or the reason no team can
serve it) into the deliberation record; ``confirm_team`` fixes a round's team after
re-selection; ``opening_messages``, ``redispatch`` and ``dispatch_round`` are the messages a
record calls for: the team, the task-deadline timer and one ``ProposeRequested`` per seat
(with its role's instruction, for that seat alone) and the round's phase timer (debate:
each seat's state leaves out its own proposal). The same record always gives the same
messages, with the same ids, which is what makes intake and dispatch safe to repeat.
"""

from __future__ import annotations

import msgspec

from schemas.base import Message
from schemas.gate import DeliberationConcluded
from schemas.propose import ConsensusState, ProposeRequested
from schemas.record import DeliberationRecord, RoundState
from schemas.task import TaskSubmitted, TaskView
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime import telemetry
from services._runtime.telemetry import trace_id_of
from services.broker.selection import NoTeam, Selection
from services.broker.settings import BrokerSettings
from services.broker.timing import phase_timeout, task_deadline
from services.core import ids, roles
from services.core.tokens import PREVIOUS_ANSWER_TOKENS, truncate_to_tokens


def confirm_team(record: DeliberationRecord, team: TeamSelected | None) -> DeliberationRecord:
    """Fix the round's team. A seat that changed hands starts without the departed
    member's previous answer and feedback."""
    current = record.current
    if team is None:
        return msgspec.structs.replace(
            record, current=msgspec.structs.replace(current, selected=True)
        )
    before = {s.seat: s.agent_id for s in current.team}
    changed = {s.seat for s in team.seats if before.get(s.seat) != s.agent_id}
    return msgspec.structs.replace(
        record,
        current=msgspec.structs.replace(current, team=team.seats, selected=True),
        team_selected=team,
        feedback={k: v for k, v in record.feedback.items() if k not in changed},
        previous_answers={k: v for k, v in record.previous_answers.items() if k not in changed},
    )


def team_selected(
    task_id: str,
    round_number: int,
    choice: Selection,
    *,
    deadline_at: float | None = None,
    phase_timeout_s: float | None = None,
    warnings: tuple[str, ...] = (),
) -> TeamSelected:
    return TeamSelected(
        task_id=task_id,
        round=round_number,
        message_id=ids.team(task_id, round_number),
        seats=choice.seats,
        objective=choice.objective,
        expected_cost_usd=choice.expected_cost_usd,
        solver_status=choice.status,
        solve_ms=choice.solve_ms,
        candidates=choice.candidates,
        deadline_at=deadline_at,
        phase_timeout_s=phase_timeout_s,
        warnings=warnings,
        simulated=any(card.backend == "sim" for card in choice.cards),
    )


def new_record(
    task: TaskSubmitted,
    choice: Selection | NoTeam,
    now: float,
    settings: BrokerSettings,
    client: str | None = None,
    warnings: tuple[str, ...] = (),
) -> DeliberationRecord:
    assert task.task_id is not None
    policy = task.policy
    client_span = telemetry.parse_traceparent(client)
    traceparent = telemetry.format_traceparent(telemetry.root_context(task.task_id, client_span))
    client = telemetry.format_traceparent(client_span) if client_span is not None else None
    if isinstance(choice, NoTeam):
        result = DeliberationConcluded(
            task_id=task.task_id,
            round=0,
            message_id=ids.result(task.task_id),
            status="failed",
            stop_reason="no_team",
            detail=choice.reason,
            trace_id=trace_id_of(traceparent),
            warnings=warnings,
        )
        return DeliberationRecord(
            task_id=task.task_id,
            task=task,
            created_at=now,
            deadline_at=now,
            phase_timeout_s=0.0,
            current=RoundState(number=0, phase="done", phase_deadline=now, team=()),
            result=result,
            traceparent=traceparent,
            client_traceparent=client,
            warnings=warnings,
        )
    timeout = phase_timeout(
        policy,
        choice.cards,
        minimum=settings.min_phase_timeout_s,
        factor=settings.phase_timeout_factor,
    )
    deadline_at = now + task_deadline(policy, timeout)
    team = team_selected(
        task.task_id, 1, choice, deadline_at=deadline_at, phase_timeout_s=timeout, warnings=warnings
    )
    return DeliberationRecord(
        task_id=task.task_id,
        task=task,
        created_at=now,
        deadline_at=deadline_at,
        phase_timeout_s=timeout,
        current=RoundState(
            number=1,
            phase="proposing",
            phase_deadline=min(now + timeout, deadline_at),
            team=choice.seats,
            started_at=now,
        ),
        team_selected=team,
        traceparent=traceparent,
        client_traceparent=client,
        simulated=any(card.backend == "sim" for card in choice.cards),
        warnings=warnings,
    )


def opening_messages(record: DeliberationRecord) -> list[Message]:
    """Everything intake emits: the team, the task deadline timer and round 1's dispatch."""
    out: list[Message] = []
    if record.team_selected is not None:
        out.append(record.team_selected)
    out.append(
        PhaseDue(
            task_id=record.task_id,
            round=0,
            message_id=ids.timer(record.task_id, 0, "task"),
            phase="task",
            owner="gate",
            due_at=record.deadline_at,
        )
    )
    out.extend(dispatch_round(record))
    return out


def redispatch(record: DeliberationRecord) -> list[Message]:
    """What intake emits again for a task it has seen: only while round 1 is still open."""
    if record.result is not None and record.result.stop_reason == "no_team":
        return [record.result]
    if record.current.number == 1 and record.current.phase == "proposing":
        return opening_messages(record)
    return []


def dispatch_round(record: DeliberationRecord) -> list[Message]:
    """One ``ProposeRequested`` per seat of the current round, and the phase timer."""
    current = record.current
    task = record.task
    view = TaskView.of(record.task_id, task)
    out: list[Message] = [
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
        PhaseDue(
            task_id=record.task_id,
            round=current.number,
            message_id=ids.timer(record.task_id, current.number, "proposing"),
            phase="proposing",
            owner="reviewer",
            due_at=current.phase_deadline,
        )
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
