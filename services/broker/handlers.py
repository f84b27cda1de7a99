"""Broker handlers: a task in → its record, team and round-1 dispatch out; a continued
round in → the next round's team (re-selected around the surviving members) and dispatch.

Consumes ``TaskSubmitted``, ``RoundContinued``; emits ``TeamSelected``,
``ProposeRequested``, ``PhaseDue`` and (when no team can serve) ``DeliberationConcluded``.
Both are idempotent: a redelivered message finds the record and emits the same messages
with the same ids. Team selection (CP-SAT) runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import structlog
from opentelemetry.trace import SpanContext

from schemas.base import TOKEN_PATTERN, Message
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord, RoundState
from schemas.task import TaskSubmitted, TaskView
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services._runtime import telemetry
from services._runtime.errors import Rejected, Retryable
from services._runtime.records import RecordStore
from services._runtime.taskspans import TaskSpans
from services._runtime.telemetry import trace_id_of
from services._runtime.worker import Delivery
from services.broker import valuation
from services.broker.registry import Registry, TelemetryCache
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
    telemetry: TelemetryCache = field(default_factory=TelemetryCache)
    spans: TaskSpans = field(default_factory=TaskSpans)


async def choose(
    task: TaskSubmitted, deps: BrokerDeps, fixed: dict[str, tuple[int, str]] | None = None
) -> Selection | NoTeam:
    """The CP-SAT team for ``task`` from the live pool and the gate's telemetry."""
    settings = deps.settings
    cands = valuation.candidates(
        deps.registry.live(), deps.telemetry.values, task.domain, settings.valuation()
    )
    return await asyncio.to_thread(
        select_team,
        cands,
        task.policy,
        valuation=settings.valuation(),
        phase_timeout_s=task.policy.phase_timeout_s,
        fixed=fixed,
        time_limit_s=settings.solver_time_limit_s,
    )


def intake_parent(msg: TaskSubmitted, delivery: Delivery) -> SpanContext:
    """The intake span's parent: the task's root span (continuing a client's trace)."""
    client = telemetry.parse_traceparent(delivery.traceparent)
    return telemetry.root_context(task_id_for(msg, delivery), client)


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
    choice = await choose(task, deps)
    now = deps.clock()
    record = new_record(task, choice, now, deps, client=delivery.traceparent)
    if not await deps.store.create(record):
        # A replica handling a duplicate won the race: emit what its record says.
        raced = await deps.store.get(task_id)
        if raced is None:
            raise Retryable("record vanished after a create conflict")
        return redispatch(raced)
    if record.result is not None:
        log.warning("no_team", reason=record.result.detail)
        deps.spans.task(record, now)
        return [record.result]
    log.info("task_accepted", team=[s.agent_id for s in record.current.team])
    return opening_messages(record)


async def on_continued(
    msg: RoundContinued, delivery: Delivery, deps: BrokerDeps
) -> Sequence[Message]:
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise Rejected(f"no deliberation record for task {msg.task_id!r}")
    if _stale(record, msg):
        return []  # that round has already moved on
    if not record.current.selected:
        team = await reselect(record, deps)
        if team is not None:  # someone left: write the new team before dispatching to it
            record, _ = await deps.store.update(
                msg.task_id, lambda r: None if _stale(r, msg) else confirm_team(r, team)
            )
            if _stale(record, msg):
                return []
    out: list[Message] = []
    if record.team_selected is not None and record.team_selected.round == msg.next_round:
        out.append(record.team_selected)
    return out + dispatch_round(record)


def _stale(record: DeliberationRecord, msg: RoundContinued) -> bool:
    current = record.current
    return record.done or current.number != msg.next_round or current.phase != "proposing"


async def reselect(record: DeliberationRecord, deps: BrokerDeps) -> TeamSelected | None:
    """The next round's team: the members still live keep their seats; the seats of those
    who left go to the best replacements. None when the team stays as it is."""
    live = {a.agent_id for a in deps.registry.live()}
    team = record.current.team
    survivors = {s.agent_id: (s.seat, s.role) for s in team if s.agent_id in live}
    if len(survivors) == len(team):
        return None
    choice = await choose(record.task, deps, fixed=survivors)
    if isinstance(choice, NoTeam):
        # Go on with whoever is left; the missing seats time out and the result says so.
        log.warning("reselection_failed", reason=choice.reason, left=sorted(set(live) ^ live))
        return None
    log.info(
        "team_reselected",
        left=sorted({s.agent_id for s in team} - live),
        team=[s.agent_id for s in choice.seats],
    )
    return team_selected(record.task_id, record.current.number, choice)


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


def team_selected(task_id: str, round_number: int, choice: Selection) -> TeamSelected:
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
    )


def new_record(
    task: TaskSubmitted,
    choice: Selection | NoTeam,
    now: float,
    deps: BrokerDeps,
    client: str | None = None,
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
        )
    timeout = phase_timeout(
        policy,
        choice.cards,
        minimum=deps.settings.min_phase_timeout_s,
        factor=deps.settings.phase_timeout_factor,
    )
    team = team_selected(task.task_id, 1, choice)
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
        client_traceparent=client,
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
