"""The pull loop's slot accounting (``services._runtime.slots``): whatever happens, pulls
and handling never claim more slots than there are; against a server that answers as
nats-server does (pulls served in turn, a 408 with the undelivered count at expiry), the
count asked for is what the server still owes, no message finds its slot taken and no free
slot is left without a pull waiting."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services._runtime.slots import Slots

EXPIRES, GRACE = 1.75, 0.25

# Anything, in any order, including nonsense: statuses for pulls never sent or twice over,
# counts larger than the batch, arrivals nobody asked for.
steps = st.lists(
    st.one_of(
        st.just(("pull",)),
        st.just(("arrive",)),
        st.just(("finish",)),
        st.tuples(
            st.just("status"),
            st.integers(0, 40),
            st.none() | st.integers(0, 70),
        ),
        st.tuples(st.just("tick"), st.floats(0, 3)),
    ),
    max_size=120,
)


def _check(slots: Slots) -> None:
    assert slots.requested >= 0
    assert slots.in_flight >= 0
    assert slots.requested + slots.in_flight <= slots.concurrency


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 40), steps)
def test_pulls_and_handling_never_claim_more_slots_than_there_are(
    concurrency: int, script: list[tuple[object, ...]]
) -> None:
    slots, now, taken = Slots(concurrency), 0.0, 0
    for step in script:
        match step:
            case ("pull",):
                if wanted := slots.wanted():
                    slots.pulled(wanted, now + EXPIRES + GRACE)
            case ("arrive",):
                taken += slots.arrived()
            case ("finish",):
                if taken:
                    slots.finished()
                    taken -= 1
            case ("status", int(pull), pending):
                slots.ended(pull, pending)  # type: ignore[arg-type]
            case ("tick", float(dt)):
                now += dt
                slots.expire(now)
        _check(slots)
        assert slots.in_flight == taken


@dataclass
class _Waiting:
    pull: int
    left: int
    expires: float


@dataclass
class _Server:
    """nats-server's waiting pulls of one consumer: served in turn, one message at a time."""

    backlog: int = 0
    waiting: list[_Waiting] = field(default_factory=list)

    def owed(self) -> int:
        return sum(w.left for w in self.waiting)


_served = [
    st.tuples(st.just("publish"), st.integers(1, 50)),
    st.tuples(st.just("deliver"), st.integers(1, 40)),
    st.tuples(st.just("finish"), st.integers(1, 40)),
    st.tuples(st.just("tick"), st.floats(0, 1.0)),
]
# A pull ends without its count (a 409), or is lost without a word (a publish the server
# never got), or every pull ends with a 409 Leadership Change: this side can only bound
# what they had left.
_countless = [
    st.tuples(st.just("end_one"), st.integers(0, 10)),
    st.tuples(st.just("lose_one"), st.integers(0, 10)),
    st.just(("leader",)),
]


def _run(concurrency: int, script: list[tuple[object, ...]], exact: bool) -> None:
    slots, server, now = Slots(concurrency), _Server(), 0.0
    for step in script:
        match step:
            case ("publish", int(count)):
                server.backlog += count
            case ("deliver", int(count)):
                for _ in range(count):
                    if not (server.backlog and server.waiting):
                        break
                    head = server.waiting.pop(0)
                    head.left -= 1
                    server.backlog -= 1
                    if head.left:
                        server.waiting.append(head)
                    assert slots.arrived(), "a message found no slot"
            case ("finish", int(count)):
                for _ in range(min(count, slots.in_flight)):
                    slots.finished()
            case ("tick", float(dt)):
                now += dt
                # The server's 408s come before this side's deadline, grace later.
                for w in [w for w in server.waiting if w.expires <= now]:
                    server.waiting.remove(w)
                    slots.ended(w.pull, w.left)
                slots.expire(now)
            case ("end_one" | "lose_one" as how, int(index)) if server.waiting:
                w = server.waiting.pop(index % len(server.waiting))
                if how == "end_one":
                    slots.ended(w.pull, None)
            case ("leader",):
                for w in server.waiting:
                    slots.ended(w.pull, None)
                server.waiting.clear()
        if slots.next_deadline() is None:
            assert slots.requested == 0, "asked for, by no pull"
        if wanted := slots.wanted():
            pull = slots.pulled(wanted, now + EXPIRES + GRACE)
            server.waiting.append(_Waiting(pull, wanted, now + EXPIRES))
        _check(slots)
        assert slots.requested >= server.owed(), "more asked for than there are slots for"
        if exact:
            assert slots.requested == server.owed()
            if slots.in_flight < concurrency:
                assert server.owed() > 0, "a free slot without a pull waiting"


@settings(max_examples=600, deadline=None)
@given(st.integers(1, 32), st.lists(st.one_of(*_served), max_size=100))
def test_against_nats_server_the_count_asked_for_is_what_the_server_owes(
    concurrency: int, script: list[tuple[object, ...]]
) -> None:
    _run(concurrency, script, exact=True)


@settings(max_examples=600, deadline=None)
@given(st.integers(1, 32), st.lists(st.one_of(*_served, *_countless), max_size=100))
def test_pulls_ended_without_a_count_never_let_more_be_asked_for_than_there_are_slots(
    concurrency: int, script: list[tuple[object, ...]]
) -> None:
    _run(concurrency, script, exact=False)


def test_a_pull_is_sent_for_every_free_slot_and_again_when_half_are_free() -> None:
    slots = Slots(8)
    assert slots.wanted() == 8
    slots.pulled(8, deadline=2.0)
    for _ in range(6):
        assert slots.arrived()
    assert slots.wanted() == 0  # two still asked for, six in hand
    for _ in range(3):
        slots.finished()
    assert slots.wanted() == 0  # three free: fewer than half
    slots.finished()
    assert slots.wanted() == 4


def test_a_408_frees_what_its_pull_left_while_another_pull_waits() -> None:
    slots = Slots(8)
    first = slots.pulled(8, deadline=2.0)
    for _ in range(4):
        slots.arrived()
        slots.finished()
    second = slots.pulled(slots.wanted(), deadline=3.0)
    assert slots.requested == 8
    for _ in range(2):  # the server serves its waiting pulls in turn: one each
        slots.arrived()
    slots.ended(first, 3)
    assert slots.requested == 3  # what the second pull still has to deliver
    slots.ended(second, 3)
    assert slots.requested == 0


def test_a_pull_the_server_forgot_ends_at_its_deadline() -> None:
    slots = Slots(4)
    slots.pulled(4, deadline=2.0)
    slots.expire(1.9)
    assert slots.wanted() == 0
    slots.expire(2.0)
    assert (slots.requested, slots.wanted()) == (0, 4)


def test_a_408_after_the_deadline_still_frees_what_its_pull_left() -> None:
    slots = Slots(8)
    first = slots.pulled(4, deadline=2.0)
    second = slots.pulled(2, deadline=3.0)
    for _ in range(2):  # one for each pull, in turn
        slots.arrived()
    slots.expire(2.5)  # the first pull's 408 is late: only what it can have left goes
    assert slots.requested == 2
    slots.ended(first, 3)  # it says three were undelivered
    assert slots.requested == 1
    slots.ended(second, 1)
    assert slots.requested == 0


def test_a_slot_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)
