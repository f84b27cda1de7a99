"""The broker's admission (services/broker/admission.py): a new task waits while a live
agent's queue is as long as its slots, counting the work this broker queued since it last
looked; it never waits on an agent that is not live, nor on counts gone stale."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from services.broker.admission import STALE_S, Admission, saturated
from services.broker.registry import Registry

from ..builders import NOW, Clock, card

AGENTS = ("a", "b", "c")


def registry(slots: dict[str, int], busy: dict[str, int] | None = None) -> Registry:
    found = Registry(stale_after_s=10.0, clock=lambda: NOW)
    for agent, n in slots.items():
        found.put(
            f"{agent}.i1", card(agent, max_concurrency=n, in_flight=(busy or {}).get(agent, 0))
        )
    return found


slots_st = st.dictionaries(st.sampled_from(AGENTS), st.integers(1, 16), min_size=1)
waiting_st = st.dictionaries(st.sampled_from((*AGENTS, "gone")), st.integers(0, 64))
busy_st = st.dictionaries(st.sampled_from(AGENTS), st.integers(0, 16))


@settings(max_examples=300, deadline=None)
@given(slots_st, busy_st, waiting_st, st.floats(0.0, 4.0), st.sampled_from((*AGENTS, "gone")))
def test_more_work_waiting_never_opens_intake(
    slots: dict[str, int], busy: dict[str, int], waiting: dict[str, int], per_slot: float, more: str
) -> None:
    live = registry(slots, busy).live()
    full = saturated(live, waiting, per_slot)
    fuller = saturated(live, {**waiting, more: waiting.get(more, 0) + 1}, per_slot)
    assert set(full) <= set(fuller)
    assert set(fuller) <= set(slots)  # only live agents ever hold intake back
    if per_slot == 0:
        assert fuller == []


@settings(max_examples=300, deadline=None)
@given(slots_st, busy_st, st.floats(0.1, 4.0))
def test_an_agent_is_full_exactly_at_its_slots_times_the_queue_per_slot(
    slots: dict[str, int], busy: dict[str, int], per_slot: float
) -> None:
    live = registry(slots, busy).live()
    for agent, n in slots.items():
        bound = max(per_slot * n, 1.0)  # in-flight calls do not shrink the slots
        below = int(bound) - 1 if bound == int(bound) else int(bound)
        assert agent not in saturated(live, {agent: below}, per_slot)
        assert agent in saturated(live, {agent: below + 1}, per_slot)


async def test_tasks_started_since_the_last_poll_count_until_a_poll_shows_them() -> None:
    clock = Clock(100.0)
    admission = Admission(registry({"a": 2, "b": 2}), queue_per_slot=1.0, poll_s=0.1, clock=clock)
    admission.update({"a": 0, "b": 0})
    assert await admission.room() == 0.0  # one task starting: one item on every agent
    admission.seated(["a", "b"])
    assert admission.full() == []
    await admission.room()
    assert admission.full() == ["a", "b"]  # the one starting fills both queues to 2
    admission.seated(["a"])
    assert admission.full() == ["a"]
    # A poll asked after both started shows their proposals: nothing is counted twice.
    admission.update({"a": 2, "b": 1}, admission.since_poll.copy())
    assert admission.full() == ["a"]
    admission.update({"a": 1, "b": 1}, admission.since_poll.copy())
    assert admission.full() == []


async def test_a_held_task_starts_when_a_poll_shows_room_or_the_counts_go_stale() -> None:
    clock = Clock(100.0)
    admission = Admission(registry({"a": 1}), queue_per_slot=1.0, poll_s=0.1, clock=clock)
    admission.update({"a": 3})
    held = asyncio.create_task(admission.room())
    await asyncio.sleep(0)
    assert not held.done()
    admission.update({"a": 2})  # still full: it keeps waiting
    await asyncio.sleep(0)
    assert not held.done()
    admission.update({"a": 0})
    assert await asyncio.wait_for(held, 1.0) == 0.0  # the fake clock did not move
    admission.seated([])

    admission.update({"a": 5})
    clock.now += STALE_S + 1  # no poll since: NATS away, say
    assert admission.full() == []
    assert await asyncio.wait_for(admission.room(), 1.0) == 0.0
