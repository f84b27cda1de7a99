"""Gate handlers: a tally in → ``RoundContinued`` or ``DeliberationConcluded`` out; the task
deadline timer in → the result, if the deliberation has not ended by then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import structlog

from schemas.base import Message
from schemas.record import DeliberationRecord
from schemas.tally import TallyComputed
from schemas.telemetry import AgentTelemetry
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue
from services._runtime.records import RecordStore
from services._runtime.worker import Delivery
from services.gate import rounds, telemetry
from services.gate.settings import GateSettings
from services.gate.telemetry import InMemoryTelemetryStore, TelemetryStore

log = structlog.get_logger("gate")


@dataclass(frozen=True)
class GateDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: GateSettings
    telemetry: TelemetryStore = field(default_factory=InMemoryTelemetryStore)


def outputs_after(record: DeliberationRecord, round_number: int) -> list[Message]:
    """What the gate has emitted for ``round_number``, to emit again (deduplicated)."""
    if record.result is not None:
        return [record.result]
    if record.continued is not None and record.continued.round == round_number:
        return [record.continued]
    return []


async def on_tally(msg: TallyComputed, delivery: Delivery, deps: GateDeps) -> Sequence[Message]:
    now = deps.clock()
    closing: list[DeliberationRecord] = []

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        if r.current.number != msg.round:
            return None
        closing[:] = [r]
        return rounds.close_round(r, now, deps.settings)

    record, changed = await deps.store.update(msg.task_id, change)
    if changed:
        await record_telemetry(closing[0], deps, now)
    return outputs_after(record, msg.round)


async def record_telemetry(closing: DeliberationRecord, deps: GateDeps, now: float) -> None:
    """Best effort: a failure to write telemetry never holds up the deliberation."""
    domain = closing.task.domain
    for obs in telemetry.observe(closing):
        try:
            await deps.telemetry.apply(
                domain, obs.agent_id, partial(_fold, obs=obs, domain=domain, now=now)
            )
        except Exception as exc:
            log.warning("telemetry_failed", agent=obs.agent_id, error=repr(exc))


def _fold(
    previous: AgentTelemetry | None, *, obs: telemetry.Observation, domain: str, now: float
) -> AgentTelemetry:
    return telemetry.fold(previous, obs, domain, now)


async def on_timer(msg: PhaseDue, delivery: Delivery, deps: GateDeps) -> Sequence[Message]:
    record = await deps.store.get(msg.task_id)
    if record is None:
        return []
    if record.result is not None:
        # Concluded by this very timer, and a crash may have lost the result: emit it again
        # (deduplicated by id). A result a tally produced was emitted by the tally handler.
        return [record.result] if record.concluded_by_timer else []
    now = deps.clock()
    if now < record.deadline_at:
        raise NotYetDue(record.deadline_at - now)
    record, changed = await deps.store.update(
        msg.task_id, lambda r: rounds.conclude_at_deadline(r, now, deps.settings)
    )
    return [record.result] if changed and record.result is not None else []
