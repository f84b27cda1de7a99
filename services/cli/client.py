"""What every CLI command shares: the NATS address, connecting, one-line errors, exit codes.

Exit codes (README, "Command line"): 0 completed, 3 degraded, 1 failed, 2 usage or connection error;
``nsed result`` also uses 4 for "no result yet".
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import IO, Any, TypeVar

import click
import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from rich.console import Console

from schemas import subjects
from schemas.gate import DeliberationConcluded
from services._runtime import credentials, natsurls
from services._runtime.errors import ConfigError
from services._runtime.retry import TRANSIENT
from services._runtime.settings import DEFAULT_HOME, DEFAULT_NATS_URL
from services.broker.registry import LiveAgent, Registry, read_cards
from services.stack import cluster

T = TypeVar("T")

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3
EXIT_PENDING = 4
EXIT_CANCELLED = 5
CONNECT_TIMEOUT_S = 3.0
RECONNECT_WAIT_S = 0.5  # between tries to get a lost connection back
RECONNECT_FOR_S = 60.0  # how long submit and watch keep trying (a NATS restart is seconds)
STALE_AFTER_S = 10.0  # an agent card older than this is not live (as the broker judges)
# Off a terminal a line is as long as its text: a pipe or a file has no width, and rich's
# default of 80 columns would wrap answers and cut table cells that scripts read.
PIPE_WIDTH = 10_000

_result_decoder = msgspec.json.Decoder(DeliberationConcluded)


class CliError(click.ClickException):
    """One readable line on stderr and exit code 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        print(f"nsed: {self.message}", file=file or sys.stderr)


def console(*, stderr: bool = False) -> Console:
    """A console for the CLI's output: the terminal's width on a terminal, else no limit."""
    out = Console(stderr=stderr, highlight=False)
    if out.is_terminal:
        return out
    return Console(stderr=stderr, highlight=False, width=PIPE_WIDTH, soft_wrap=True)


def nats_url() -> str:
    """``NSED_NATS_URL``, with every node of the local stack's cluster when it names one of
    them: a command told one node still finds the others when that one is down."""
    given = given_nats_url()
    recorded = cluster.load(stack_home())
    return natsurls.widen(given, recorded.urls) if recorded is not None else given


def given_nats_url() -> str:
    return os.environ.get("NSED_NATS_URL", DEFAULT_NATS_URL)


def stack_environment() -> dict[str, str]:
    """What a process started by hand (``nsed agent run``) needs to join the local stack:
    every node's URL, and the stack's stream replicas unless set (it may be the first
    process to create a stream)."""
    given = given_nats_url()
    recorded = cluster.load(stack_home())
    if recorded is None or not natsurls.overlap(given, natsurls.join(recorded.urls)):
        return {}
    env = {"NSED_NATS_URL": natsurls.widen(given, recorded.urls)}
    if "NSED_STREAM_REPLICAS" not in os.environ:
        env["NSED_STREAM_REPLICAS"] = str(recorded.replicas)
    return env


def nsed_home() -> str:
    return os.environ.get("NSED_HOME", DEFAULT_HOME)


def project_root() -> Path:
    """The checkout holding ``infra/`` (the package lives in it: editable install)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "infra").is_dir() else Path.cwd()


def stack_home() -> Path:
    """``NSED_HOME`` as the stack uses it: a relative one is under the checkout."""
    home = Path(nsed_home())
    return home if home.is_absolute() else project_root() / home


async def connect(url: str | None = None, *, follow: bool = False) -> Client:
    """Connect once: a stack that is down is one line at once. With ``follow`` (a command
    that waits on a task: ``submit``, ``watch``), a connection lost later is tried again
    every ``RECONNECT_WAIT_S`` for up to ``RECONNECT_FOR_S``, with one line on stderr when
    it is lost and one when it is back; nats-py says nothing itself. ``url`` may list a
    cluster's nodes, separated by commas. It connects as ``admin`` with the stack's key
    (``NSED_NATS_NKEY``, else ``$NSED_HOME/auth/admin.nk``), else anonymously."""
    url = url or nats_url()
    identity = admin_credentials()
    lines = _ConnectionLines(url)

    async def _quiet(_: Exception) -> None:
        return None

    try:
        nc = await nats.connect(
            natsurls.split(url),
            name="nsed-cli",
            connect_timeout=CONNECT_TIMEOUT_S,
            allow_reconnect=False,
            # nats-py retries forever with 0; 1 means: try once more, then give up.
            max_reconnect_attempts=1,
            reconnect_time_wait=RECONNECT_WAIT_S,
            error_cb=_quiet,
            disconnected_cb=lines.lost,
            reconnected_cb=lines.back,
            **identity.options(),
        )
    except Exception as exc:
        raise CliError(
            f"cannot reach NATS at {url} ({type(exc).__name__}); is the stack up? try `make up`"
        ) from exc
    lines.nc = nc
    if follow:
        # nats-py reads these each time the connection is lost, not only when connecting.
        nc.options["allow_reconnect"] = True
        nc.options["max_reconnect_attempts"] = round(RECONNECT_FOR_S / RECONNECT_WAIT_S)
    return nc


def admin_credentials() -> credentials.Credentials:
    try:
        return credentials.for_principal(credentials.ADMIN, stack_home())
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


class _ConnectionLines:
    """The two lines a follower prints about its connection (stderr, like its progress)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.nc: Client | None = None
        self._lost_at = 0.0

    async def lost(self) -> None:
        # Also called when the command closes its connection: only a lost one is news.
        if self.nc is not None and self.nc.is_reconnecting:
            self._lost_at = time.monotonic()
            print(
                f"nsed: lost the connection to NATS at {self.url}; "
                f"trying again for up to {RECONNECT_FOR_S:g}s",
                file=sys.stderr,
            )

    async def back(self) -> None:
        down = time.monotonic() - self._lost_at
        print(f"nsed: connected to NATS again after {down:.1f}s", file=sys.stderr)


def connection_lost(task_id: str) -> CliError:
    """What a follower says when NATS did not come back in time (the task goes on)."""
    return CliError(
        f"lost the connection to NATS at {nats_url()} and it did not come back within "
        f"{RECONNECT_FOR_S:g}s; task {task_id} goes on: `nsed watch {task_id}`"
    )


async def live_agents(nc: Client) -> list[LiveAgent]:
    """The live pool, as the broker sees it: one entry per agent id."""
    return (await agent_registry(nc)).live()


async def agent_registry(nc: Client) -> Registry:
    """Every agent card in ``nsed_agents``, judged as the broker judges them."""
    js = nc.jetstream(timeout=CONNECT_TIMEOUT_S)
    try:
        kv = await js.key_value(subjects.AGENTS_BUCKET)
    except Exception as exc:
        raise CliError("no agent registry on this server; is the stack up?") from exc
    return await read_cards(js, kv, Registry(stale_after_s=STALE_AFTER_S))


def exit_code(result: DeliberationConcluded) -> int:
    codes = {"completed": EXIT_COMPLETED, "degraded": EXIT_DEGRADED, "cancelled": EXIT_CANCELLED}
    return codes.get(result.status, EXIT_FAILED)


def decode_result(data: bytes) -> DeliberationConcluded:
    return _result_decoder.decode(data)


async def stored_result(
    nc: Client, task_id: str, since: float | None = None, *, patient: bool = False
) -> DeliberationConcluded | None:
    """The task's result from ``NSED_RESULTS``, if it has one; with ``since`` (epoch
    seconds), only one the stream stored at or after it (the answer to this submission,
    not an earlier task's under the same id). ``patient`` (a follower polling): a server
    that is away or still starting has no result yet, rather than an error."""
    js = nc.jetstream(timeout=CONNECT_TIMEOUT_S)
    # Results stored before they were republished are kept under the subject clients hear.
    for subject in (subjects.concluded(task_id), subjects.results(task_id)):
        try:
            msg = await js.get_last_msg(subjects.NSED_RESULTS, subject)
            break
        except nats.js.errors.NotFoundError:
            continue
        except TRANSIENT as exc:
            if patient:
                return None
            if not isinstance(exc, nats.errors.NoRespondersError):
                raise
            raise CliError("JetStream is not available on this server; is the stack up?") from exc
    else:
        return None
    if since is not None and msg.time is not None and msg.time.timestamp() < since:
        return None
    return decode_result(msg.data) if msg.data else None


async def stored_messages(nc: Client, subject: str, stream: str, idle_s: float) -> list[Msg]:
    """Every message ``stream`` holds on ``subject``, oldest first, read until none has come
    for ``idle_s`` seconds."""
    sub = await nc.jetstream().subscribe(
        subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    messages: list[Msg] = []
    try:
        while True:
            try:
                messages.append(await sub.next_msg(timeout=idle_s))
            except (TimeoutError, nats.errors.TimeoutError):
                return messages
    finally:
        await sub.unsubscribe()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a configuration error becomes the one-line CLI error."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
