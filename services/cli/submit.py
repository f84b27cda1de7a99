"""``nsed submit``: publish a task on ``nsed.tasks``, follow it live, print the answer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
import time
import uuid
from collections.abc import Collection
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.task import TaskRefused, TaskSubmitted
from services._runtime.retry import Backoff
from services.cli import client
from services.cli.checks import Asked, against_pool
from services.cli.client import CliError
from services.cli.progress import Progress
from services.cli.queue import QueueWatch
from services.cli.view import summary_line, warning_lines
from services.core.events import event_decoder
from services.core.wording import plain

RESULT_GRACE_S = 30.0
RESEND = Backoff(first_s=0.25, max_s=5.0)  # a task the server did not acknowledge
POLL_EVERY_S = 2.0
TEAM_WAIT_S = 60.0  # for the broker to seat a team (and say when the task must end)
_INTEGER = re.compile(r"^-?\d+$")


def read_prompt(prompt: str | None, prompt_file: str | None) -> str:
    """The prompt from the argument, from stdin (``-``) or from ``--file``: exactly one."""
    if prompt is not None and prompt_file is not None:
        raise CliError("give either PROMPT or --file, not both")
    if prompt_file is not None:
        try:
            with open(prompt_file, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the prompt from {prompt_file}: {_reason(exc)}") from exc
    if prompt is None:
        raise CliError(
            "give the prompt: nsed submit PROMPT, nsed submit - (reads stdin) or --file PATH"
        )
    if prompt == "-":
        try:
            return sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise CliError(f"cannot read the prompt from stdin: {_reason(exc)}") from exc
    return prompt


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def build_task(
    prompt: str,
    *,
    answer: str | None,
    domain: str,
    answer_format: str | None,
    policy: dict[str, Any],
    task_id: str | None = None,
) -> TaskSubmitted:
    """Validate exactly as the broker will, so a bad task is a usage error here."""
    if answer_format is None:
        answer_format = "integer" if answer is not None and _INTEGER.match(answer) else "text"
    raw = {
        "task_id": task_id or f"t-{uuid.uuid4().hex[:16]}",
        "prompt": prompt,
        "domain": domain,
        "answer_format": answer_format,
        "reference_answer": answer,
        "policy": {k: v for k, v in policy.items() if v is not None},
        "submitted_at": time.time(),
    }
    try:
        return msgspec.convert(raw, TaskSubmitted)
    except msgspec.ValidationError as exc:
        raise CliError(f"invalid task: {plain(str(exc))}") from exc


async def publish(nc: Client, task: TaskSubmitted) -> int:
    """Publish one submission of ``task``; returns its stream position. The message id is
    the submission's own, not the task id: the broker, not the duplicate window, decides
    what a task id sent again means (its result again, or a refusal). A connection that
    reconnects (``client.connect(follow=True)``) sends it again, under the same id, until
    the server acknowledges it or the connection is given up."""
    js = nc.jetstream(timeout=client.CONNECT_TIMEOUT_S)
    assert task.task_id is not None
    submission = f"{task.task_id}:{uuid.uuid4().hex[:12]}"
    give_up_at = time.monotonic() + client.RECONNECT_FOR_S
    for attempt in itertools.count():
        try:
            ack = await js.publish(
                subjects.TASKS, msgspec.json.encode(task), headers={"Nats-Msg-Id": submission}
            )
            return int(ack.seq)
        except nats.errors.NoRespondersError as exc:
            if not nc.stats["reconnects"]:  # no stream, and no restart that explains it
                raise CliError(
                    f"no {subjects.NSED_TASKS} stream on {client.nats_url()}: the services "
                    "are not running; try `make up`"
                ) from exc
            error: Exception = exc  # JetStream still loading its streams after a restart
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            error = exc
        except nats.errors.ConnectionClosedError as exc:
            raise client.connection_lost(task.task_id) from exc
        if not nc.options["allow_reconnect"] or time.monotonic() > give_up_at:
            raise CliError("the server did not acknowledge the task in time") from error
        await asyncio.sleep(RESEND.delay(attempt))
    raise AssertionError("unreachable")


def wait_until(task: TaskSubmitted, progress: Progress, started: float) -> float:
    """When to give up waiting (monotonic): the policy's deadline, else the one the broker
    derived from the team's latency (in ``TeamSelected``), plus a grace; until the team is
    known, ``TEAM_WAIT_S``. ``started``: when the task was sent, or when the queue ahead of
    it last moved (a task's deadline starts when the broker starts it)."""
    if task.policy.deadline_s is not None:
        return started + task.policy.deadline_s + RESULT_GRACE_S
    if progress.deadline_at is not None:
        return started + max(progress.deadline_at - time.time(), 0.0) + RESULT_GRACE_S
    return started + TEAM_WAIT_S


async def follow(
    nc: Client, task: TaskSubmitted, progress: Progress
) -> DeliberationConcluded | None:
    """Wait for the result, showing events; polls the results stream as a fallback."""
    assert task.task_id is not None
    done: asyncio.Future[DeliberationConcluded] = asyncio.get_running_loop().create_future()

    async def on_event(msg: Any) -> None:
        with contextlib.suppress(msgspec.DecodeError):
            event = event_decoder.decode(msg.data)
            if isinstance(event, TaskRefused) and not done.done():
                done.set_exception(CliError(f"refused: {event.reason}"))
                return
            progress.on_event(event)

    async def on_result(msg: Any) -> None:
        with contextlib.suppress(msgspec.DecodeError):
            result = client.decode_result(msg.data)
            if not done.done():
                done.set_result(result)

    events = await nc.subscribe(subjects.task_events(task.task_id), cb=on_event)
    results = await nc.subscribe(subjects.results(task.task_id), cb=on_result)
    try:
        sent = time.time()  # a stored result older than this answered an earlier sending
        queue = QueueWatch(await publish(nc, task))
        started = time.monotonic()
        while not done.done() and time.monotonic() < wait_until(task, progress, started):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), timeout=POLL_EVERY_S)
            progress.tick(time.time())
            if not done.done() and not progress.counts.agents:  # not started yet
                with contextlib.suppress(nats.errors.Error, TimeoutError):
                    place, moved = await queue.look(nc)
                    progress.queued(place, time.time())
                    if moved:  # a busy pool, not a stopped one: its time starts later
                        started = time.monotonic()
            if not done.done():
                # Also what finds a result sent while the connection was away.
                stored = await client.stored_result(nc, task.task_id, since=sent, patient=True)
                if stored is not None:
                    done.set_result(stored)
        return done.result() if done.done() else None
    except nats.errors.ConnectionClosedError as exc:
        raise client.connection_lost(task.task_id) from exc
    finally:
        if not nc.is_closed:
            await events.unsubscribe()
            await results.unsubscribe()


async def submit(
    task: TaskSubmitted,
    *,
    wait: bool,
    as_json: bool,
    show_progress: bool,
    asked: Asked | None = None,
) -> int:
    """Publish ``task`` and follow it to its result. With ``asked`` (what the command line
    set), the task is first checked against the live pool: refused if it cannot be seated."""
    nc = await client.connect(follow=wait)
    try:
        if asked is not None:
            reason, warnings = against_pool(task, await client.live_agents(nc), asked)
            if reason is not None:
                raise CliError(reason)
            for warning in warnings:
                print(f"nsed: warning: {warning}", file=sys.stderr)
        if not wait:
            await publish(nc, task)
            if as_json:
                sys.stdout.write(msgspec.json.encode({"task_id": task.task_id}).decode() + "\n")
            else:
                print(task.task_id)
            return client.EXIT_COMPLETED
        progress = Progress(
            str(task.task_id),
            enabled=show_progress and not as_json,
            has_reference=task.reference_answer is not None,
        )
        try:
            result = await follow(nc, task, progress)
        finally:
            progress.close()
    finally:
        await nc.close()
    if result is None:
        why = (
            f"nsed: {task.task_id} is still queued, and no task ahead of it has started for "
            f"{TEAM_WAIT_S:.0f}s (is the broker running?); it stays queued"
            if progress.in_queue
            else f"nsed: no result for {task.task_id} in time; it may still be running"
        )
        print(f"{why}: nsed watch {task.task_id}", file=sys.stderr)
        return client.EXIT_FAILED
    if as_json:
        sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    else:
        print_answer(result, progress.warned)
    return client.exit_code(result)


def print_answer(result: DeliberationConcluded, warned: Collection[str] = ()) -> None:
    """The answer on stdout (the extracted answer first), the summary and any warning not
    yet shown (``warned``) on stderr."""
    out = client.console()
    err = client.console(stderr=True)
    for line in warning_lines(result.warnings, warned):
        err.print(line, markup=False)
    if result.answer is None:
        err.print(f"no answer: {result.detail}", markup=False)
    else:
        # The answer a reader looks for first; the text after it shows how it was reached.
        if result.extracted_answer is not None:
            out.print(f"answer: {result.extracted_answer}\n", markup=False)
        out.print(result.answer, markup=False)
    err.print(summary_line(result), markup=False)
