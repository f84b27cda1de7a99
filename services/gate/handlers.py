"""Gate handlers: a tally in → ``RoundContinued`` or ``DeliberationConcluded`` out; the task
deadline timer in → the result, if the deliberation has not ended by then. Each task the
gate ends is one ``task_finished`` line in its log (status, stop reason, rounds, cost and the
answer's first characters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from schemas.gate import CancelRequested, DeliberationConcluded
from schemas.outputs import GateOutcome
from schemas.record import DeliberationRecord
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.errors import NotYetDue, UnknownTask
from services._runtime.records import RecordStore
from services._runtime.taskspans import TaskSpans
from services.gate import early, rounds, stats
from services.gate.settings import GateSettings
from services.gate.stats import InMemoryStatsStore, StatsBuffer

log = structlog.get_logger("gate")
PREVIEW_CHARS = 80


@dataclass(frozen=True)
class GateDeps:
    store: RecordStore
    clock: Callable[[], float]
    settings: GateSettings
    stats: StatsBuffer = field(default_factory=lambda: StatsBuffer(InMemoryStatsStore()))
    spans: TaskSpans = field(default_factory=TaskSpans)


def outputs_after(record: DeliberationRecord, round_number: int) -> GateOutcome | None:
    """What the gate has emitted for ``round_number``, to emit again (deduplicated)."""
    if record.result is not None:
        return record.result
    if record.continued is not None and record.continued.round == round_number:
        return record.continued
    return None


async def on_tally(msg: TallyComputed, deps: GateDeps) -> GateOutcome | None:
    now = deps.clock()
    closing: list[DeliberationRecord] = []

    def change(r: DeliberationRecord) -> DeliberationRecord | None:
        if r.current.number != msg.round:
            return None
        closing[:] = [r]
        return rounds.close_round(r, now, deps.settings)

    record, changed = await deps.store.update(msg.task_id, change)
    if changed:
        before = closing[0]
        emit_spans(deps, record, before.current.number, before.current.started_at, now)
        # Buffered, off the round's critical path: the next round does not wait for it.
        deps.stats.add(before.task.domain, stats.observe(before), now)
        log_finished(record)
    return outputs_after(record, msg.round)


def log_finished(record: DeliberationRecord) -> None:
    """The one line a person reads per finished task (when this write ended it)."""
    result = record.result
    if result is None:
        return
    log.info(
        "task_finished",
        task_id=record.task_id,
        status=result.status,
        stop_reason=result.stop_reason,
        rounds=result.rounds,
        cost_usd=result.cost_usd,
        elapsed_s=result.elapsed_s,
        answer=preview(result.extracted_answer or result.answer),
        correct=result.correct,
    )


def preview(answer: str | None) -> str | None:
    """An answer on one line, cut to ``PREVIEW_CHARS``."""
    if answer is None:
        return None
    text = " ".join(answer.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def emit_spans(
    deps: GateDeps, record: DeliberationRecord, number: int, started: float, now: float
) -> None:
    """The closed round's span, and the task's root span when this ended the task."""
    summary = next((s for s in record.summaries if s.round == number), None)
    attributes: dict[str, object] = {}
    if summary is not None:
        attributes = {
            "nsed.winner_agent": summary.winner_agent or "",
            "nsed.conviction": summary.conviction,
            "nsed.evidence": summary.evidence,
            "nsed.state_tokens": summary.state_tokens,
            "nsed.cost_usd": summary.cost_usd,
            "nsed.degraded": summary.degraded,
        }
    deps.spans.round(record, number, started, now, attributes)
    if record.result is not None:
        deps.spans.task(record, now)


async def on_timer(msg: PhaseDue, deps: GateDeps) -> DeliberationConcluded | None:
    # Read first: a timer of no task is refused at once, not held until it is due.
    record = await deps.store.get(msg.task_id)
    if record is None:
        raise UnknownTask(msg.task_id)
    now = deps.clock()
    if now < msg.due_at:  # the deadline it was armed with is ahead
        raise NotYetDue(msg.due_at - now)
    if record.result is not None:
        # Concluded by this very timer, and a crash may have lost the result: emit it again
        # (deduplicated by id). A result a tally produced was emitted by the tally handler.
        return record.result if record.concluded_by_timer else None
    now = deps.clock()
    if now < record.deadline_at:
        raise NotYetDue(record.deadline_at - now)
    record, changed = await deps.store.update(
        msg.task_id, lambda r: early.conclude_at_deadline(r, now, deps.settings)
    )
    if changed and record.current.number > 0:
        emit_spans(deps, record, record.current.number, record.current.started_at, now)
    if changed:
        log_finished(record)
    return record.result if changed else None


async def on_cancel(msg: CancelRequested, deps: GateDeps) -> DeliberationConcluded | None:
    """A client cancelled the task: it ends now, ``cancelled``, with what it has."""
    now = deps.clock()
    record, changed = await deps.store.update(
        msg.task_id, lambda r: early.cancel(r, msg.reason, now, deps.settings)
    )
    if changed and record.current.number > 0:
        emit_spans(deps, record, record.current.number, record.current.started_at, now)
    if changed:
        log_finished(record)
    result = record.result
    # A redelivery after a crash emits the result again (published once all the same).
    if result is not None and (changed or result.stop_reason == "cancelled"):
        return result
    return None
