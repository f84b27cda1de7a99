"""``nsed cancel``: stop a running task. The gate ends it at once as ``cancelled``, with the
best answer it had and what it cost; no further round starts, and runners skip its work
that has not started (the calls already made are paid for in the record)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from typing import Any

import msgspec

from schemas import subjects
from schemas.gate import CancelRequested, DeliberationConcluded
from schemas.limits import REASON_CHARS
from services.cli import client
from services.cli.client import CliError
from services.cli.inspect import task_record
from services.cli.view import summary_line
from services.core.wording import clip

WAIT_S = 30.0


async def cancel(task_id: str, reason: str, as_json: bool) -> int:
    """Exit 0 once the task has ended (by this cancel or before it); 2 for an unknown id."""
    nc = await client.connect()
    try:
        ended = await client.stored_result(nc, task_id)
        already = ended is not None
        if ended is None:
            if await task_record(nc, task_id) is None:
                raise CliError(f"no task {task_id!r} on this server")
            ended = await request(nc, task_id, reason)
        if ended is None:
            raise CliError(f"no result for {task_id} within {WAIT_S:g}s of cancelling it")
    finally:
        await nc.close()
    if already:
        print(f"nsed: task {task_id} had already ended; nothing to cancel", file=sys.stderr)
    if as_json:
        sys.stdout.write(msgspec.json.encode(ended).decode() + "\n")
    else:
        client.console(stderr=True).print(summary_line(ended), markup=False)
    return client.EXIT_COMPLETED


async def request(nc: Any, task_id: str, reason: str) -> DeliberationConcluded | None:
    """Publish the cancellation and wait for the task's result."""
    done: asyncio.Future[DeliberationConcluded] = asyncio.get_running_loop().create_future()

    async def on_result(msg: Any) -> None:
        with contextlib.suppress(msgspec.DecodeError):
            if not done.done():
                done.set_result(client.decode_result(msg.data))

    sub = await nc.subscribe(subjects.results(task_id), cb=on_result)
    try:
        message = CancelRequested(
            task_id=task_id,
            round=0,
            message_id=f"{task_id}:cancel",
            reason=clip(reason, REASON_CHARS),  # the gate refuses a longer one
        )
        js = nc.jetstream(timeout=client.CONNECT_TIMEOUT_S)
        await js.publish(
            subjects.subject_for(message),
            msgspec.json.encode(message),
            headers={"Nats-Msg-Id": f"{task_id}:cancel:{uuid.uuid4().hex[:8]}"},
        )
        try:
            return await asyncio.wait_for(done, timeout=WAIT_S)
        except TimeoutError:
            return await client.stored_result(nc, task_id)
    finally:
        await sub.unsubscribe()
