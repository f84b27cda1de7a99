"""Broker handlers: a task in → its record, team and round-1 dispatch out; a continued
round in → the next round's team (re-selected around the surviving members) and dispatch.

Consumes ``TaskSubmitted``, ``RoundContinued``; emits ``TeamSelected``,
``ProposeRequested``, ``PhaseDue`` and (when no team can serve) ``DeliberationConcluded``,
and writes an accepted task's reference answer to ``nsed_references`` before round 1.
Both are idempotent: a redelivered message finds the record and emits the same messages
with the same ids. The handlers read the registry, choose the team (CP-SAT, in a worker
thread, off the event loop) and write the record; what the record becomes is
``transitions.py``'s, and what it calls for ``dispatch.py``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import structlog
from opentelemetry.trace import SpanContext

from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.outputs import Dispatch, Intake
from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from services._runtime import tracing
from services._runtime.errors import Rejected, Retryable
from services._runtime.records import RecordStore
from services._runtime.references import InMemoryReferenceStore, ReferenceStore
from services._runtime.route import Delivery
from services._runtime.taskspans import TaskSpans
from services.broker import valuation
from services.broker.admission import Admission
from services.broker.dispatch import continued_round, opening_messages, redispatch
from services.broker.exact_team import seat_exact
from services.broker.registry import Registry, StatsCache
from services.broker.selection import NoTeam, Selection, select_team
from services.broker.settings import BrokerSettings
from services.broker.transitions import (
    again,
    confirm_team,
    left,
    new_record,
    readable_task_id,
    rejected,
    stale,
    task_id_for,
    team_selected,
)
from services.broker.unknown_fields import field_warnings, unknown_keys

log = structlog.get_logger("broker")


@dataclass(frozen=True)
class BrokerDeps:
    store: RecordStore
    registry: Registry
    clock: Callable[[], float]
    settings: BrokerSettings
    stats: StatsCache = field(default_factory=StatsCache)
    spans: TaskSpans = field(default_factory=TaskSpans)
    admission: Admission | None = None  # None: every task starts at once
    references: ReferenceStore = field(default_factory=InMemoryReferenceStore)
    # Reads every card again now, for when the watch may not have caught up (None: trust it)
    refresh: Callable[[], Awaitable[object]] | None = None


async def choose(
    task: TaskSubmitted, deps: BrokerDeps, fixed: dict[str, tuple[int, str]] | None = None
) -> Selection | NoTeam:
    """The CP-SAT team for ``task`` from the live pool and the gate's stats (the
    policy's exact team instead, when it names one)."""
    settings = deps.settings
    cands = valuation.candidates(
        deps.registry.live(), deps.stats.values, task.domain, settings.valuation()
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
    client = tracing.parse_traceparent(delivery.traceparent)
    return tracing.root_context(task_id_for(msg, delivery), client)


async def on_task(msg: TaskSubmitted, delivery: Delivery, deps: BrokerDeps) -> Sequence[Intake]:
    task_id = task_id_for(msg, delivery)
    task = msgspec.structs.replace(msg, task_id=task_id)
    existing = await deps.store.get(task_id)
    if existing is not None:
        known = again(existing, task, delivery, deps.clock())
        for refused in (m for m in known if isinstance(m, TaskRefused)):
            log.warning("task_refused", reason=refused.reason)
        await keep_reference(existing.task, known, deps)
        return known
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


async def start(task: TaskSubmitted, delivery: Delivery, deps: BrokerDeps) -> Sequence[Intake]:
    """A new task's record, team and round-1 dispatch (or its ``no_team`` result)."""
    assert task.task_id is not None
    choice = await choose(task, deps)
    now = deps.clock()
    warnings = field_warnings(unknown_keys(delivery.payload))
    record = new_record(
        task,
        choice,
        now,
        deps.settings,
        client=delivery.traceparent,
        warnings=warnings,
        intake_seq=delivery.stream_seq,
    )
    if not await deps.store.create(record):
        # A replica handling a duplicate won the race: emit what its record says.
        raced = await deps.store.get(task.task_id)
        if raced is None:
            raise Retryable("record vanished after a create conflict")
        out = redispatch(raced)
        await keep_reference(raced.task, out, deps)
        return out
    if record.result is not None:
        log.warning("no_team", reason=record.result.detail)
        deps.spans.task(record, now)
        return [record.result]
    log.info("task_accepted", team=[s.agent_id for s in record.current.team])
    out = opening_messages(record)
    await keep_reference(record.task, out, deps)
    return out


async def keep_reference(task: TaskSubmitted, out: Sequence[Intake], deps: BrokerDeps) -> None:
    """Before round 1 is dispatched (again, on a redelivery), the simulation's oracle: the
    task's reference answer where simulated runners read it, apart from the record."""
    dispatched = any(isinstance(m, ProposeRequested) for m in out)
    if dispatched and task.reference_answer is not None and task.task_id is not None:
        await deps.references.put(task.task_id, task.reference_answer)


async def on_continued(msg: RoundContinued, deps: BrokerDeps) -> Sequence[Dispatch]:
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise Rejected(f"no deliberation record for task {msg.task_id!r}")
    if stale(record, msg):
        return []  # that round has already moved on
    if not record.current.selected:
        team = await reselect(record, deps)
        if team is not None:  # someone left: write the new team before dispatching to it
            record, _ = await deps.store.update(
                msg.task_id, lambda r: None if stale(r, msg) else confirm_team(r, team)
            )
            if stale(record, msg):
                return []
    return continued_round(record)


async def reselect(record: DeliberationRecord, deps: BrokerDeps) -> TeamSelected | None:
    """The next round's team: the members still live keep their seats; the seats of those
    who left go to the best replacements. None when the team stays as it is."""
    team = record.current.team
    if deps.refresh is not None and short_handed(record):
        # A member whose call just failed has made its card unhealthy before its error went
        # out, but the watch may bring that card after the round's close (three hops) has
        # reached this broker: read the cards now rather than seat it again.
        try:
            await deps.refresh()
        except Exception as exc:  # the watch's view stands; the next round looks again
            log.warning("registry_refresh_failed", error=repr(exc))
    live = {a.agent_id for a in deps.registry.live()}
    survivors = {s.agent_id: (s.seat, s.role) for s in team if s.agent_id in live}
    if len(survivors) == len(team):
        return None
    choice = await choose(record.task, deps, fixed=survivors)
    if isinstance(choice, NoTeam):
        # Go on with whoever is left; the missing seats time out and the result says so.
        log.warning("reselection_failed", reason=choice.reason, left=left(team, live))
        return None
    log.info("team_reselected", left=left(team, live), team=[s.agent_id for s in choice.seats])
    return team_selected(
        record.task_id,
        record.current.number,
        choice,
        deadline_at=record.deadline_at,
        phase_timeout_s=record.phase_timeout_s,
        warnings=record.warnings,
    )


def short_handed(record: DeliberationRecord) -> bool:
    """Whether the round just closed missed a member's proposal or ballot."""
    if not record.summaries:
        return False
    last, seats = record.summaries[-1], len(record.current.team)
    return last.degraded or last.ok_proposals < seats or last.valid_ballots < seats


async def reject_task(
    payload: bytes, error: Rejected, deps: BrokerDeps
) -> DeliberationConcluded | None:
    """A task that fails validation gets a ``failed`` result if its id is readable and no
    task holds that id: the result subject of a task that exists belongs to that task
    alone."""
    task_id = readable_task_id(payload)
    if task_id is None:
        return None
    if await deps.store.get(task_id) is not None:
        log.warning("rejected_task_reuses_id", task_id=task_id, reason=error.reason)
        return None
    return rejected(task_id, payload, error)
