"""Arming a phase timer (``arming.Arming``) against the timers stream as the server keeps
schedules: whatever order concurrent arms of a task's rounds, in one process or several,
read and publish in, the timer left waiting for the task and phase is the latest round's,
and it never goes back a round."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.js.api import PubAck, RawStreamMsg
from nats.js.errors import BadRequestError, NotFoundError

from schemas import subjects
from schemas.timers import PhaseDue, replaces
from services._runtime import arming
from services._runtime.bus import Bus
from services._runtime.errors import Retryable
from services.core.timers import phase_due

TASK = "t-arm"
SCHEDULE = subjects.TIMER_SCHEDULES.format(task_id=TASK, phase="proposing")


class FakeTimers:
    """The schedules' side of ``NSED_TIMERS``, as nats-server 2.15 keeps them (checked
    against it in ``tests/integration/test_timer_rollup.py``): one message per subject, the
    last stored; a publish naming the subject's last sequence (0: none) is stored only if
    that is still the last (without one, whatever is there). Each call first yields to the
    event loop as many times as ``turns`` says: the order concurrent arms interleave in."""

    def __init__(self, turns: Iterator[int]) -> None:
        self.turns = turns
        self.seq = 0
        self.held: dict[str, tuple[int, bytes]] = {}
        self.rounds: list[int] = []  # the round stored, after each publish stored

    async def _turn(self) -> None:
        for _ in range(next(self.turns, 0)):
            await asyncio.sleep(0)  # a yield, never a wait: lets another arm run a step

    async def get_last_msg(self, stream: str, subject: str, direct: bool = True) -> RawStreamMsg:
        await self._turn()
        assert stream == subjects.NSED_TIMERS
        if subject not in self.held:
            raise NotFoundError
        seq, data = self.held[subject]
        return RawStreamMsg(subject=subject, seq=seq, data=data)

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> PubAck:
        await self._turn()
        last = self.held.get(subject, (0, b""))[0]
        expected = headers.get(arming.EXPECTED_LAST_SUBJECT_SEQ)
        if expected is not None and int(expected) != last:
            raise BadRequestError(err_code=arming.WRONG_LAST_SEQUENCE)
        self.seq += 1
        self.held[subject] = (self.seq, payload)
        self.rounds.append(msgspec.json.decode(payload, type=PhaseDue).round)
        return PubAck(stream=subjects.NSED_TIMERS, seq=self.seq)

    def scheduled(self) -> PhaseDue:
        return msgspec.json.decode(self.held[SCHEDULE][1], type=PhaseDue)


class FakeClient:
    def __init__(self, js: FakeTimers) -> None:
        self._js = js

    def jetstream(self, **_: Any) -> FakeTimers:
        return self._js


def timer(round_number: int) -> PhaseDue:
    return phase_due(TASK, round_number, "proposing", "reviewer", 1_000.0 + round_number)


async def arm_until_armed(bus: Bus, round_number: int) -> None:
    """One handler's arm, redelivered (as the worker does) while it is refused as retryable."""
    while True:
        try:
            return await bus.publish(timer(round_number))
        except Retryable:
            continue


@settings(max_examples=300, deadline=None)
@given(
    arms=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 2)), min_size=1, max_size=8),
    turns=st.lists(st.integers(0, 3), max_size=80),
)
async def test_the_timer_left_waiting_is_the_latest_round_armed_and_never_goes_back(
    arms: list[tuple[int, int]], turns: list[int]
) -> None:
    """``arms``: (round, process) pairs; each process remembers what it armed."""
    js = FakeTimers(iter(turns))
    buses = [Bus(FakeClient(js), "broker") for _ in range(3)]  # type: ignore[arg-type]
    await asyncio.gather(*(arm_until_armed(buses[p], r) for r, p in arms))
    assert js.scheduled() == timer(max(r for r, _ in arms))
    assert js.rounds == sorted(set(js.rounds))  # each store a later round than the last


@settings(max_examples=100, deadline=None)
@given(rounds=st.lists(st.integers(1, 6), min_size=1, max_size=8, unique=True))
async def test_a_process_arming_round_after_round_publishes_once_and_reads_nothing(
    rounds: list[int],
) -> None:
    js = FakeTimers(iter(()))
    reads = 0
    read = js.get_last_msg

    async def counted(stream: str, subject: str, direct: bool = True) -> RawStreamMsg:
        nonlocal reads
        reads += 1
        return await read(stream, subject, direct)

    js.get_last_msg = counted  # type: ignore[method-assign]
    bus = Bus(FakeClient(js), "broker")  # type: ignore[arg-type]
    for r in sorted(rounds):
        await bus.publish(timer(r))
    assert (js.rounds, reads) == (sorted(rounds), 0)


@given(scheduled=st.none() | st.integers(0, 9), armed=st.integers(0, 9))
def test_only_a_later_rounds_timer_replaces_the_one_waiting(
    scheduled: int | None, armed: int
) -> None:
    waiting = None if scheduled is None else timer(scheduled)
    assert replaces(waiting, timer(armed)) == (scheduled is None or armed > scheduled)
