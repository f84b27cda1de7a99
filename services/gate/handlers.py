"""Gate handlers: a tally in → ``RoundContinued`` or ``DeliberationConcluded`` out; the task
deadline timer in → the result, if the deliberation has not ended by then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.base import Message
from schemas.record import DeliberationRecord
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue
from services._runtime.records import RecordStore
from services._runtime.worker import Delivery
from services.gate import rounds
from services.gate.settings import GateSettings


@dataclass(frozen=True)
class GateDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: GateSettings


def outputs_after(record: DeliberationRecord, round_number: int) -> list[Message]:
    """What the gate has emitted for ``round_number``, to emit again (deduplicated)."""
    if record.result is not None:
        return [record.result]
    if record.continued is not None and record.continued.round == round_number:
        return [record.continued]
    return []


async def on_tally(msg: TallyComputed, delivery: Delivery, deps: GateDeps) -> Sequence[Message]:
    now = deps.clock()

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        if r.current.number != msg.round:
            return None
        return rounds.close_round(r, now, deps.settings)

    record, _ = await deps.store.update(msg.task_id, change)
    return outputs_after(record, msg.round)


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
        msg.task_id, lambda r: rounds.conclude_at_deadline(r, now)
    )
    return [record.result] if changed and record.result is not None else []
