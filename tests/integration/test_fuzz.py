"""Fuzzing every subject a service consumes (issue 16): thousands of generated messages —
random bytes, wrong types, extreme numbers, unknown tags, and valid envelopes with hostile
values (``tests/support/fuzz.py``, Hypothesis over the schema snapshots, a fixed seed) —
on the task, work, event and timer subjects of the flow table, at a running stack.

No service stops; every message a service could not take is in ``NSED_DLQ`` with a reason,
exactly as many per service as were sent that way (a well-formed message about a task
nobody runs included: acted on or dead-lettered, never dropped); every valid task gets its
result; and a task submitted afterwards completes with one result.
"""

from __future__ import annotations

import time
from collections import Counter

import msgspec
from nats.aio.client import Client

from schemas import subjects
from schemas.dlq import DeadLetter
from schemas.subjects import FLOW
from services.cli.client import stored_messages
from tests.integration.conftest import ready
from tests.support import fuzz, nsed
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

SERVICES = set(fuzz.SERVICES)


def test_the_corpus_covers_every_subject_a_service_consumes() -> None:
    consumed = {
        (service, step.message)
        for step in FLOW
        for service in step.consumers
        if service in SERVICES
    }
    assert {(e.service, e.message) for e in fuzz.ENTRIES} == consumed


async def dead_letter_counts(nc: Client) -> Counter[str]:
    info = await nc.jetstream().stream_info(subjects.NSED_DLQ, subjects_filter="nsed.dlq.>")
    found = info.state.subjects or {}
    return Counter({subject.rsplit(".", 1)[-1]: count for subject, count in found.items()})


async def left_over(nc: Client) -> dict[str, tuple[int, int]]:
    """Consumers of the task, work, event or timer streams with messages not yet handled:
    name -> (pending, unacknowledged)."""
    js = nc.jetstream()
    left = {}
    for stream in (subjects.NSED_TASKS, subjects.NSED_WORK, subjects.NSED_EVENTS,
                   subjects.NSED_TIMERS):  # fmt: skip
        for consumer in await js.consumers_info(stream):
            if consumer.num_pending or consumer.num_ack_pending:
                left[consumer.name] = (consumer.num_pending, consumer.num_ack_pending)
    return left


async def idle(nc: Client) -> bool:
    return not await left_over(nc)


async def test_fuzzed_messages_are_dead_lettered_with_reasons_and_the_stack_keeps_working(
    inproc: InProcessServices, nc: Client
) -> None:
    started = time.monotonic()
    inbox = await nsed.ResultInbox.open(nc)
    inproc.start_all()
    await ready(nc, agents=("alpha", "bravo", "charlie"))
    shots = fuzz.corpus(now=time.time())
    expected = fuzz.expected(shots)
    print(f"fuzz: {len(shots)} messages (seed {fuzz.SEED}): {fuzz.describe(shots)}")

    js = nc.jetstream()
    sent = [await js.publish(shot.subject, shot.payload) for shot in shots]
    assert len(sent) == len(shots)

    seen: dict[str, object] = {}

    async def all_dead_letters() -> bool:
        seen["dead letters"] = dict(await dead_letter_counts(nc))
        seen["left"] = await left_over(nc)
        return seen["dead letters"] == dict(expected) and not seen["left"]

    try:
        await until(all_dead_letters, timeout=60, every=0.2, what="every message handled")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: expected {dict(expected)}, found {seen}") from None
    assert inproc.failures() == []

    letters = [
        msgspec.json.decode(m.data, type=DeadLetter)
        for m in await stored_messages(nc, "nsed.dlq.>", subjects.NSED_DLQ, idle_s=0.5)
    ]
    assert Counter(letter.service for letter in letters) == expected
    assert all(letter.error.strip() for letter in letters)
    # Each message its consumer refused is there, by its own subject and stream position.
    lettered = {(letter.subject, letter.stream_seq): letter for letter in letters}
    for shot, ack in zip(shots, sent, strict=True):
        if shot.fate is fuzz.Fate.DEAD_LETTERED:
            letter = lettered.get((shot.subject, ack.seq))
            assert letter is not None, f"{shot.how} on {shot.subject} ({ack.seq}): no dead letter"
            assert letter.service == shot.entry.service

    # Every valid task was taken and ended (most at once: no team could serve them).
    tasks = {s.task_id for s in shots if s.fate is fuzz.Fate.CONCLUDED and s.task_id}
    await inbox.results(sorted(tasks), timeout=30)

    after = nsed.new_task_id("after-fuzz")
    await nsed.publish_task(nc, nsed.task(after), msg_id=after)
    result = await inbox.result(after, timeout=30)
    assert result.status in ("completed", "degraded")
    await until(lambda: idle(nc), timeout=30, what="the stack idle")
    await inbox.settle()
    assert inbox.count(after) == 1
    assert {inbox.count(task) for task in tasks} == {1}
    assert inproc.failures() == []
    print(f"fuzz: {len(shots)} messages handled in {time.monotonic() - started:.1f}s")
