"""Broker handlers: a task in → its record, team and round-1 dispatch out; a continued
round in → the next round's dispatch out.

Consumes ``TaskSubmitted``, ``RoundContinued``; emits ``TeamSelected``,
``ProposeRequested``, ``PhaseDue`` and (when no team can serve) ``DeliberationConcluded``.
Both are idempotent: a redelivered message finds the record and emits the same messages
with the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import structlog

from schemas.base import TOKEN_PATTERN, Message
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord, RoundState
from schemas.task import TaskSubmitted, TaskView
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime.errors import Rejected, Retryable
from services._runtime.records import RecordStore
from services._runtime.telemetry import trace_id_of
from services._runtime.worker import Delivery
from services.broker.registry import Registry
from services.broker.selection import NoTeam, Selection, phase_timeout, select_team
from services.broker.settings import BrokerSettings
from services.core import ids
from services.core.rng import stable_hex
from services.core.tokens import PREVIOUS_ANSWER_TOKENS, truncate_to_tokens

log = structlog.get_logger("broker")
_TOKEN = re.compile(TOKEN_PATTERN)


@dataclass(frozen=True)
class BrokerDeps:
    store: RecordStore
    registry: Registry
    clock: Callable[[], float]
    settings: BrokerSettings
    traceparent: Callable[[], str | None]


def task_id_for(msg: TaskSubmitted, delivery: Delivery) -> str:
    """The client's id, else one derived from the stream position (stable on redelivery)."""
    if msg.task_id:
        return msg.task_id
    return f"t{delivery.stream_seq}-{stable_hex(delivery.payload, size=5)}"


async def on_task(msg: TaskSubmitted, delivery: Delivery, deps: BrokerDeps) -> Sequence[Message]:
    task_id = task_id_for(msg, delivery)
    task = msgspec.structs.replace(msg, task_id=task_id)
    existing = await deps.store.get(task_id)
    if existing is not None:
        if existing.task != task:
            raise Rejected(f"task id {task_id!r} is already used by another task")
        return redispatch(existing)
    now = deps.clock()
    agents = deps.registry.live()
    choice = select_team(agents, task.policy, task.domain)
    record = new_record(task, choice, now, deps)
    if not await deps.store.create(record):
        # A replica handling a duplicate won the race: emit what its record says.
        raced = await deps.store.get(task_id)
        if raced is None:
            raise Retryable("record vanished after a create conflict")
        return redispatch(raced)
    if record.result is not None:
        log.warning("no_team", reason=record.result.detail)
        return [record.result]
    log.info("task_accepted", team=[s.agent_id for s in record.current.team])
    return opening_messages(record)


async def on_continued(
    msg: RoundContinued, delivery: Delivery, deps: BrokerDeps
) -> Sequence[Message]:
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise Rejected(f"no deliberation record for task {msg.task_id!r}")
    current = record.current
    if record.done or current.number != msg.next_round or current.phase != "proposing":
        return []  # stale: that round has already moved on
    return dispatch_round(record)


def new_record(
    task: TaskSubmitted, choice: Selection | NoTeam, now: float, deps: BrokerDeps
) -> DeliberationRecord:
    assert task.task_id is not None
    policy = task.policy
    traceparent = deps.traceparent()
    if isinstance(choice, NoTeam):
        result = DeliberationConcluded(
            task_id=task.task_id,
            round=0,
            message_id=ids.result(task.task_id),
            status="failed",
            stop_reason="no_team",
            detail=choice.reason,
            trace_id=trace_id_of(traceparent),
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
        )
    timeout = phase_timeout(
        policy,
        choice.cards,
        minimum=deps.settings.min_phase_timeout_s,
        factor=deps.settings.phase_timeout_factor,
    )
    team = TeamSelected(
        task_id=task.task_id,
        round=1,
        message_id=ids.team(task.task_id, 1),
        seats=choice.seats,
        objective=choice.objective,
        expected_cost_usd=choice.expected_cost_usd,
        solver_status=choice.status,
        solve_ms=choice.solve_ms,
        candidates=choice.candidates,
    )
    return DeliberationRecord(
        task_id=task.task_id,
        task=task,
        created_at=now,
        deadline_at=now + policy.deadline_s,
        phase_timeout_s=timeout,
        current=RoundState(
            number=1,
            phase="proposing",
            phase_deadline=min(now + timeout, now + policy.deadline_s),
            team=choice.seats,
            started_at=now,
        ),
        team_selected=team,
        traceparent=traceparent,
        simulated=any(card.backend == "sim" for card in choice.cards),
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
            task=view,
            state=record.state if current.number > 1 else None,
            feedback=record.feedback.get(seat.seat, ()),
            previous_answer=_previous(record.previous_answers.get(seat.seat)),
            deadline=current.phase_deadline,
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


def _previous(answer: str | None) -> str | None:
    return None if answer is None else truncate_to_tokens(answer, PREVIOUS_ANSWER_TOKENS)


def reject_task(payload: bytes, error: Rejected) -> Sequence[Message]:
    """A task that fails validation still gets a ``failed`` result if its id is readable."""
    try:
        raw = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return []
    task_id = raw.get("task_id") if isinstance(raw, dict) else None
    if not isinstance(task_id, str) or _TOKEN.fullmatch(task_id) is None:
        return []
    detail = f"invalid task: {error.reason}"
    return [
        DeliberationConcluded(
            task_id=task_id,
            round=0,
            message_id=ids.result(task_id),
            status="failed",
            stop_reason="error",
            detail=detail,
        )
    ]
