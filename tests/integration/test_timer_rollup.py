"""A task keeps one timer waiting per phase, its latest round's: on a real server, the
earlier rounds' timers are replaced as the later ones are armed and never fall due."""

from __future__ import annotations

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from schemas import subjects
from schemas.timers import PhaseDue
from services._runtime.bus import Bus, ensure_topology
from services.core.timers import phase_due
from services.stack.permissions import service_routes
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

_TIMER = msgspec.json.Decoder(PhaseDue)


async def scheduled(js: JetStreamContext, task_id: str) -> list[PhaseDue]:
    """Every timer the timers stream holds waiting for ``task_id``, in stream order."""
    prefix = subjects.TIMER_SCHEDULES.split("{", 1)[0] + f"{task_id}.>"
    info = await js.stream_info(subjects.NSED_TIMERS, subjects_filter=prefix)
    found = []
    for subject in info.state.subjects or {}:
        try:
            msg = await js.get_last_msg(subjects.NSED_TIMERS, subject)
        except NotFoundError:
            continue  # fallen due since
        found.append((msg.seq, _TIMER.decode(msg.data)))
    return [timer for _, timer in sorted(found, key=lambda pair: pair[0])]


async def phase_timer_deliveries(js: JetStreamContext) -> tuple[int, int]:
    """How many timers the phase owners' consumers (the reviewer's and the voter's) have
    delivered so far, and how many they still hold (pending or unacknowledged)."""
    delivered = waiting = 0
    for service in ("reviewer", "voter"):
        for route in service_routes(service):
            if PhaseDue in route.consumes:
                info = await js.consumer_info(route.stream, route.name)
                delivered += info.delivered.consumer_seq or 0
                waiting += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return delivered, waiting


async def three_rounds(inproc: InProcessServices, nc: Client, phase_timeout_s: float) -> str:
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    task_id = nsed.new_task_id("rollup")
    body = nsed.task(task_id, max_rounds=3, min_rounds=3, phase_timeout_s=phase_timeout_s)
    await nsed.publish_task(nc, body, msg_id=task_id)
    result = await nsed.wait_result(nc, task_id, timeout=30)
    assert result.rounds == 3
    return task_id


async def test_a_three_round_task_leaves_only_its_last_rounds_timers_scheduled(
    inproc: InProcessServices, nc: Client
) -> None:
    # Timeouts far beyond the test: every timer armed is still waiting when it ends. No
    # round was still reviewing at its proposing deadline, so none armed a reviewing timer.
    task_id = await three_rounds(inproc, nc, phase_timeout_s=60.0)
    waiting = await scheduled(nc.jetstream(), task_id)
    assert sorted((t.phase, t.round) for t in waiting) == [("proposing", 3), ("task", 0)]


async def test_a_three_round_task_wakes_the_phase_owners_only_for_its_last_round(
    inproc: InProcessServices, nc: Client
) -> None:
    js = nc.jetstream()
    await ensure_topology(js)
    task_id = await three_rounds(inproc, nc, phase_timeout_s=3.0)
    before, _ = await phase_timer_deliveries(js)

    async def all_fallen_due() -> bool:
        left = [t for t in await scheduled(js, task_id) if t.phase != "task"]
        return not left and (await phase_timer_deliveries(js))[1] == 0

    await until(all_fallen_due, timeout=20, what="the task's phase timers to fall due")
    delivered, _ = await phase_timer_deliveries(js)
    # Round 3's proposing timer, once. A timer per round and phase would be 6 (and
    # `before` counts any that fell due while the task ran).
    assert delivered == 1, (before, delivered)


async def test_an_earlier_rounds_timer_armed_late_leaves_the_later_one_scheduled(
    nc: Client,
) -> None:
    js = nc.jetstream()
    await ensure_topology(js)
    bus = Bus(nc, "broker")
    task_id = nsed.new_task_id("late-arm")
    later = phase_due(task_id, 2, "proposing", "reviewer", 4_000_000_000.0)
    earlier = phase_due(task_id, 1, "proposing", "reviewer", 3_000_000_000.0)
    await bus.publish(earlier)
    await bus.publish(later)  # replaces round 1's
    last_seq = (await js.stream_info(subjects.NSED_TIMERS)).state.last_seq
    # Round 1's handler re-run past the duplicate window (its id no longer remembered), and
    # round 2's: the same timer, already armed.
    await bus.publish(msgspec.structs.replace(earlier, message_id="forgotten-1"))
    await bus.publish(msgspec.structs.replace(later, message_id="forgotten-2"))
    assert await scheduled(js, task_id) == [later]
    assert (await js.stream_info(subjects.NSED_TIMERS)).state.last_seq == last_seq
