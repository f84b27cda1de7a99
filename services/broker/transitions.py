"""The broker's record transitions and intake decisions (pure: no NATS, no clock).

``new_record`` turns an accepted task and its selected team (or the reason no team can
serve it) into the deliberation record: round 1 ``proposing``, or ``done`` with a
``no_team`` result. ``confirm_team`` fixes a continued round's team after re-selection.
``again`` is what intake emits for a task id it has seen (``task_id_for`` names a task
sent without one); ``stale`` says a ``RoundContinued`` came for a round that moved on;
``rejected`` is the ``failed`` result of a task that does not validate. The messages a
record calls for are ``dispatch.py``'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from schemas.base import TOKEN_PATTERN
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.outputs import Intake
from schemas.record import DeliberationRecord, RoundState
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import Seat, TeamSelected
from services._runtime import tracing
from services._runtime.errors import Rejected
from services._runtime.route import UNDECODABLE, Delivery, dead_letter
from services._runtime.tracing import trace_id_of
from services.broker.dispatch import redispatch
from services.broker.selection import NoTeam, Selection
from services.broker.settings import BrokerSettings
from services.broker.timing import phase_timeout, task_deadline
from services.core import ids
from services.core.rng import stable_hex

_TOKEN = re.compile(TOKEN_PATTERN)
INTAKE_ROUTE = "broker-tasks"  # the durable a refused task's dead letter names


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
    intake_seq: int = 0,
) -> DeliberationRecord:
    assert task.task_id is not None
    policy = task.policy
    client_span = tracing.parse_traceparent(client)
    traceparent = tracing.format_traceparent(tracing.root_context(task.task_id, client_span))
    client = tracing.format_traceparent(client_span) if client_span is not None else None
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
            intake_seq=intake_seq,
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
        intake_seq=intake_seq,
    )


def task_id_for(msg: TaskSubmitted, delivery: Delivery) -> str:
    """The client's id, else one derived from the stream position (stable on redelivery)."""
    if msg.task_id:
        return msg.task_id
    return f"t{delivery.stream_seq}-{stable_hex(delivery.payload, size=5)}"


def again(
    existing: DeliberationRecord, task: TaskSubmitted, delivery: Delivery, now: float
) -> Sequence[Intake]:
    """A task id is an idempotency key. The message that created the record, redelivered,
    emits what it emitted. The same task sent anew gets what its record says: its result
    once it has one (a copy under its own message id, so a client that asks again hears
    it), else round 1 again while that is still open. A different task under the id
    is refused on ``nsed.events.<id>.refused`` and dead-lettered, and the id's own result
    is left alone."""
    if same_task(existing.task, task):
        if existing.result is not None and delivery.stream_seq != existing.intake_seq:
            copy = ids.result_again(existing.task_id, delivery.stream_seq)
            return [msgspec.structs.replace(existing.result, message_id=copy)]
        return redispatch(existing)
    reason = f"task id {existing.task_id!r} is already used by another task; use another id"
    return [
        TaskRefused(
            task_id=existing.task_id,
            message_id=ids.refused(existing.task_id, delivery.stream_seq),
            reason=reason,
        ),
        dead_letter(INTAKE_ROUTE, "broker", delivery, Rejected(reason), now),
    ]


def same_task(a: TaskSubmitted, b: TaskSubmitted) -> bool:
    """The same task, whenever it was sent (``submitted_at`` is the client's clock)."""
    return msgspec.structs.replace(a, submitted_at=None) == msgspec.structs.replace(
        b, submitted_at=None
    )


def stale(record: DeliberationRecord, msg: RoundContinued) -> bool:
    """The continued round is no longer the record's open one (it moved on, or ended)."""
    current = record.current
    return record.done or current.number != msg.next_round or current.phase != "proposing"


def left(team: Sequence[Seat], live: set[str]) -> list[str]:
    """The members of ``team`` who are no longer live."""
    return sorted({s.agent_id for s in team} - live)


def readable_task_id(payload: bytes) -> str | None:
    """The task id of a payload that did not validate, when it has a well-formed one."""
    try:
        raw = msgspec.json.decode(payload)
    except UNDECODABLE:
        return None
    task_id = raw.get("task_id") if isinstance(raw, dict) else None
    if not isinstance(task_id, str) or _TOKEN.fullmatch(task_id) is None:
        return None
    return task_id


def rejected(task_id: str, payload: bytes, error: Rejected) -> DeliberationConcluded:
    """The ``failed`` result of an invalid task, under a message id of its own (one per
    rejected payload), so that it can never take the place of a real result in the
    duplicate window."""
    return DeliberationConcluded(
        task_id=task_id,
        round=0,
        message_id=ids.rejection(task_id, stable_hex(payload, size=8)),
        status="failed",
        stop_reason="error",
        detail=f"invalid task: {error.reason}",
    )
