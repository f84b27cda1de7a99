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
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import Seat, TeamSelected
from services._runtime import telemetry
from services._runtime.errors import Rejected, Retryable
from services._runtime.records import RecordStore
from services._runtime.route import UNDECODABLE, Delivery
from services._runtime.taskspans import TaskSpans
from services.broker import valuation
from services.broker.admission import Admission
from services.broker.exact_team import seat_exact
from services.broker.registry import Registry, TelemetryCache
from services.broker.selection import NoTeam, Selection, select_team
from services.broker.settings import BrokerSettings
from services.broker.transitions import (
    confirm_team,
    dispatch_round,
    new_record,
    opening_messages,
    redispatch,
    team_selected,
)
from services.broker.unknown_fields import field_warnings, unknown_keys
from services.core import ids
from services.core.rng import stable_hex

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
    admission: Admission | None = None  # None: every task starts at once


async def choose(
    task: TaskSubmitted, deps: BrokerDeps, fixed: dict[str, tuple[int, str]] | None = None
) -> Selection | NoTeam:
    """The CP-SAT team for ``task`` from the live pool and the gate's telemetry (the
    policy's exact team instead, when it names one)."""
    settings = deps.settings
    cands = valuation.candidates(
        deps.registry.live(), deps.telemetry.values, task.domain, settings.valuation()
    )
    if task.policy.team:
        return seat_exact(cands, task.policy, settings.valuation())
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
        return again(existing, task, delivery, deps.clock())
    if deps.admission is None:
        return await start(task, delivery, deps)
    # Held here, unstarted, while the pool is saturated: its deadline starts after.
    held_s = await deps.admission.room()
    seated: list[str] = []
    try:
        if held_s >= 0.01:
            log.info("task_admitted", held_s=round(held_s, 2))
        out = await start(task, delivery, deps)
        seated = [m.agent_id for m in out if isinstance(m, ProposeRequested)]
        return out
    finally:
        deps.admission.seated(seated)


async def start(task: TaskSubmitted, delivery: Delivery, deps: BrokerDeps) -> Sequence[Message]:
    """A new task's record, team and round-1 dispatch (or its ``no_team`` result)."""
    assert task.task_id is not None
    choice = await choose(task, deps)
    now = deps.clock()
    warnings = field_warnings(unknown_keys(delivery.payload))
    record = new_record(
        task, choice, now, deps.settings, client=delivery.traceparent, warnings=warnings
    )
    record = msgspec.structs.replace(record, intake_seq=delivery.stream_seq)
    if not await deps.store.create(record):
        # A replica handling a duplicate won the race: emit what its record says.
        raced = await deps.store.get(task.task_id)
        if raced is None:
            raise Retryable("record vanished after a create conflict")
        return redispatch(raced)
    if record.result is not None:
        log.warning("no_team", reason=record.result.detail)
        deps.spans.task(record, now)
        return [record.result]
    log.info("task_accepted", team=[s.agent_id for s in record.current.team])
    return opening_messages(record)


def again(
    existing: DeliberationRecord, task: TaskSubmitted, delivery: Delivery, now: float
) -> list[Message]:
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
    log.warning("task_refused", reason=reason)
    return [
        TaskRefused(
            task_id=existing.task_id,
            message_id=ids.refused(existing.task_id, delivery.stream_seq),
            reason=reason,
        ),
        DeadLetter(
            message_id=f"dlq:broker-tasks:{delivery.stream_seq}",
            service="broker",
            subject=delivery.subject,
            error=reason,
            payload_excerpt=delivery.payload[:512].decode("utf-8", "replace"),
            stream_seq=delivery.stream_seq,
            delivered=delivery.delivered,
            at=now,
        ),
    ]


def same_task(a: TaskSubmitted, b: TaskSubmitted) -> bool:
    """The same task, whenever it was sent (``submitted_at`` is the client's clock)."""
    return msgspec.structs.replace(a, submitted_at=None) == msgspec.structs.replace(
        b, submitted_at=None
    )


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
        log.warning("reselection_failed", reason=choice.reason, left=_left(team, live))
        return None
    log.info("team_reselected", left=_left(team, live), team=[s.agent_id for s in choice.seats])
    return team_selected(
        record.task_id,
        record.current.number,
        choice,
        deadline_at=record.deadline_at,
        phase_timeout_s=record.phase_timeout_s,
        warnings=record.warnings,
    )


def _left(team: Sequence[Seat], live: set[str]) -> list[str]:
    """The members of ``team`` who are no longer live."""
    return sorted({s.agent_id for s in team} - live)


async def reject_task(payload: bytes, error: Rejected, deps: BrokerDeps) -> Sequence[Message]:
    """A task that fails validation gets a ``failed`` result if its id is readable and no
    task holds that id: the result subject of a task that exists belongs to that task
    alone. The rejection has its own message id (one per rejected message), so it can never
    take the place of a real result in the duplicate window."""
    try:
        raw = msgspec.json.decode(payload)
    except UNDECODABLE:
        return []
    task_id = raw.get("task_id") if isinstance(raw, dict) else None
    if not isinstance(task_id, str) or _TOKEN.fullmatch(task_id) is None:
        return []
    if await deps.store.get(task_id) is not None:
        log.warning("rejected_task_reuses_id", task_id=task_id, reason=error.reason)
        return []
    return [
        DeliberationConcluded(
            task_id=task_id,
            round=0,
            message_id=ids.rejection(task_id, stable_hex(payload, size=8)),
            status="failed",
            stop_reason="error",
            detail=f"invalid task: {error.reason}",
        )
    ]
