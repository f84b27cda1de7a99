"""The warning a phase timer leaves for each member it timed out: who, where, and how long a
phase may take (the task's deadline may have cut it shorter). The reviewer's proposing
timer and the voter's reviewing timer both write it."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from schemas.record import DeliberationRecord
from schemas.timers import TimedPhase

log = structlog.get_logger("timers")


def log_timeouts(record: DeliberationRecord, seats: Iterable[int], phase: TimedPhase) -> None:
    cur = record.current
    agents = {s.seat: s.agent_id for s in cur.team}
    for seat in seats:
        log.warning(
            "member_timed_out",
            agent_id=agents.get(seat),
            seat=seat,
            phase=phase,
            round=cur.number,
            phase_timeout_s=round(record.phase_timeout_s, 1),
        )
