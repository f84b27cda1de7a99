"""What NATS holds about a benchmark's tasks once it has run, read as any client can.

Consumes the results stream, the deliberation records (KV ``nsed_deliberations``) and the
services' durable consumers. Emits when each result was stored (and how many times), each
record's state in a line, and whether the stack is idle (nothing pending or unacknowledged
on the task, work and event streams: every message handled has had its outputs published).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import msgspec
from nats.aio.client import Client
from nats.js.errors import KeyDeletedError, KeyNotFoundError

from schemas import subjects
from schemas.record import DeliberationRecord
from services.bench.outcomes import RecordState
from services.cli.client import stored_messages

_record = msgspec.json.Decoder(DeliberationRecord)


async def stored_results(nc: Client) -> dict[str, list[float]]:
    """Epoch seconds at which the results stream stored each task's result(s)."""
    found: dict[str, list[float]] = {}
    for msg in await stored_messages(
        nc, subjects.concluded("*"), subjects.NSED_RESULTS, idle_s=0.5
    ):
        task_id = msg.subject.rsplit(".", 1)[-1]
        found.setdefault(task_id, []).append(msg.metadata.timestamp.timestamp())
    return found


async def records(nc: Client, task_ids: Iterable[str]) -> dict[str, DeliberationRecord | None]:
    kv = await nc.jetstream().key_value(subjects.DELIBERATIONS_BUCKET)
    found: dict[str, DeliberationRecord | None] = {}
    for task_id in task_ids:
        try:
            entry = await kv.get(task_id)
        except (KeyNotFoundError, KeyDeletedError):
            found[task_id] = None
            continue
        found[task_id] = _record.decode(entry.value) if entry.value else None
    return found


def state(record: DeliberationRecord | None) -> RecordState:
    if record is None:
        return "absent"
    return "done" if record.done else "running"


def describe(record: DeliberationRecord | None) -> str:
    """A record's state in a line: where a task stopped, for a report."""
    if record is None:
        return "no record"
    now = time.time()
    current = record.current
    line = (
        f"round {current.number} {current.phase}: {len(current.proposals)} proposal(s), "
        f"{len(current.ballots)} ballot(s) of {len(current.team)} seats; "
        f"phase due {current.phase_deadline - now:+.1f}s, task due {record.deadline_at - now:+.1f}s"
    )
    if record.result is not None:
        line += f"; concluded {record.result.status} ({record.result.stop_reason})"
    return line


async def idle(nc: Client) -> bool:
    js = nc.jetstream()
    for stream in (subjects.NSED_TASKS, subjects.NSED_WORK, subjects.NSED_EVENTS):
        for consumer in await js.consumers_info(stream):
            if consumer.num_pending or consumer.num_ack_pending:
                return False
    return True


async def wait_idle(nc: Client, timeout: float) -> bool:
    """Whether the stack became idle within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await idle(nc):
                return True
        except Exception:  # NATS still electing or reconnecting: ask again
            pass
        await asyncio.sleep(0.25)
    return False
