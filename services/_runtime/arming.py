"""Arming a phase timer: a JetStream message schedule on ``NSED_TIMERS``, one per task and
phase (``schemas.subjects.TIMER_SCHEDULES``), which a later round's replaces.

Consumes a ``PhaseDue`` and its encoded payload and headers (``Bus.publish``). Emits at
most one schedule, stored only in place of an earlier round's (``schemas.timers.replaces``).

The handlers arm a round's timer only while the record says the round is open, but a
publish can land after the next round's (a process stalled between its read and its
publish, a publish buffered across a reconnect): the server's compare-and-set on the
subject's last sequence (``Nats-Expected-Last-Subject-Sequence``) refuses it once a later
round's is armed. Left open: an old round's arm landing after the later round's timer has
fallen due (the schedule is gone) is scheduled again and wakes its owner once, for a round
that is over, which it ignores.

The compare-and-set names the sequence it expects to replace. A process remembers the
sequence of each schedule it armed last (``ARMED_KEPT`` of them), so arming the next round
of a task it armed before is one publish: naming that sequence (or 0, none, for a task it
never armed). Only when the server refuses it (the timer fell due, or another process armed
one since) is the waiting timer read, and the compare-and-set retried on what it holds.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from schemas import subjects
from schemas.timers import PhaseDue, replaces
from services._runtime.errors import Retryable
from services._runtime.retry import TRANSIENT

# A publish the stream stores only if the subject's last message has this sequence (0: none).
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = 10071  # the server's error code when it does not
READ_ATTEMPTS = 3  # compare-and-sets on what a read found, after the first one is refused
ARMED_KEPT = 4096  # schedules whose last sequence a process remembers
_TIMER = msgspec.json.Decoder(PhaseDue)


class Arming:
    """One process's timer arming: the compare-and-set, and what it armed last."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self._armed: OrderedDict[str, tuple[int, int]] = OrderedDict()  # → (seq, round)

    async def arm(self, timer: PhaseDue, payload: bytes, headers: dict[str, str]) -> None:
        """Schedule ``timer`` in place of the one its task and phase has waiting, unless
        that one is of its round or a later one."""
        schedule = subjects.timer_schedule(timer)
        known = self._armed.get(schedule)
        if known is not None and known[1] >= timer.round:
            return  # this process armed this round's timer, or a later one's, already
        if await self._store(schedule, known[0] if known else 0, timer, payload, headers):
            return
        for attempt in range(READ_ATTEMPTS):
            # After a refused compare-and-set, read from the stream's leader, which refused it.
            seq, scheduled = await self._scheduled(schedule, direct=attempt == 0)
            if not replaces(scheduled, timer):
                return
            if await self._store(schedule, seq, timer, payload, headers):
                return
        raise Retryable("the timer's schedule kept changing while it was armed", delay=1.0)

    async def _store(
        self, schedule: str, seq: int, timer: PhaseDue, payload: bytes, headers: dict[str, str]
    ) -> bool:
        """Publish ``timer`` if the subject's last sequence is ``seq``; False if refused."""
        try:
            ack = await self.js.publish(
                schedule, payload, headers={**headers, EXPECTED_LAST_SUBJECT_SEQ: str(seq)}
            )
        except BadRequestError as exc:
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
            return False
        except TRANSIENT as exc:
            raise Retryable(f"publish not acknowledged: {type(exc).__name__}", delay=1.0) from exc
        self._remember(schedule, ack.seq, timer.round)
        return True

    def _remember(self, schedule: str, seq: int, round_number: int) -> None:
        known = self._armed.get(schedule)
        if known is not None and known[1] > round_number:
            return  # an old round's, stored after a later one fell due: keep the later
        self._armed[schedule] = (seq, round_number)
        self._armed.move_to_end(schedule)
        if len(self._armed) > ARMED_KEPT:
            self._armed.popitem(last=False)

    async def _scheduled(self, schedule: str, *, direct: bool) -> tuple[int, PhaseDue | None]:
        """The sequence and timer of the schedule waiting on ``schedule`` (0, None: none)."""
        try:
            last = await self.js.get_last_msg(subjects.NSED_TIMERS, schedule, direct=direct)
        except NotFoundError:
            return 0, None
        except TRANSIENT as exc:
            raise Retryable(f"lookup not answered: {type(exc).__name__}", delay=1.0) from exc
        try:
            return last.seq or 0, _TIMER.decode(last.data or b"")
        except msgspec.DecodeError:
            return last.seq or 0, None  # not a timer: replace it
