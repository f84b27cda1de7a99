"""The runners a stack did not start itself: found, named and stopped by ``nsed stack``.

Consumes the entries runners write under ``$NSED_HOME/runners`` (``agent_runner.runfile``)
and the cards live in the stack's ``nsed_agents``. A runner started by hand
(``nsed agent run``) with the stack's NSED_HOME and NATS URL joined that stack: ``status``
lists it, ``up`` warns when its agent is not in the pool (it can be seated), and ``down``
stops it, while NATS is still up, so that it deregisters and cannot join the next stack.
A card with no entry belongs to a runner started elsewhere (another NSED_HOME or host):
it is named, for the person who started it to stop. A runner started by hand for an agent
the stack's authorization does not know is enrolled first (``enrol``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import nats

from schemas.team import AgentCard
from services._runtime import credentials, natsurls
from services.agent_runner.runfile import RunnerEntry, alive, entries
from services.stack import auth
from services.stack.permissions import Agent
from services.stack.supervisor import StackPaths, Supervisor, same_server

ENROL_TIMEOUT_S = 10.0


def by_hand(home: Path, nats_url: str | None) -> list[RunnerEntry]:
    """Runners started by hand with this home that still run, on the stack's NATS (any,
    if it is not known). Entries of runners that are gone are removed."""
    found = []
    for path, entry in entries(home):
        if not alive(entry):
            path.unlink(missing_ok=True)
            continue
        if entry.supervised:
            continue
        if nats_url is None or same_server(entry.nats_url, nats_url):
            found.append(entry)
    return found


def elsewhere(cards: Iterable[AgentCard], home: Path) -> list[AgentCard]:
    """Live cards of runners with no entry in this home: started with another NSED_HOME,
    or on another host."""
    known = {entry.instance_id for _, entry in entries(home)}
    return sorted(
        (c for c in cards if c.instance_id not in known),
        key=lambda c: (c.agent_id, c.instance_id),
    )


def name(entry: RunnerEntry) -> str:
    log = f", log {entry.log}" if entry.log else ""
    return f"{entry.agent_id} (pid {entry.pid}{log})"


def name_card(card: AgentCard) -> str:
    return f"{card.agent_id} (instance {card.instance_id})"


def terminate(runners: Iterable[RunnerEntry]) -> list[RunnerEntry]:
    """SIGTERM each runner (it drains and deregisters); returns those signalled."""
    signalled = []
    for entry in runners:
        try:
            os.kill(entry.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        signalled.append(entry)
    return signalled


def wait_or_kill(runners: list[RunnerEntry], timeout: float) -> list[RunnerEntry]:
    """Wait up to ``timeout`` for the runners to exit; SIGKILL and return those that did
    not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(r) for r in runners):
        time.sleep(0.1)
    killed = []
    for entry in runners:
        if alive(entry):
            try:
                os.kill(entry.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(entry)
    return killed


def enrol(stack: StackPaths, agent: Agent, url: str, timeout: float = ENROL_TIMEOUT_S) -> bool:
    """Give ``agent`` a key and a grant in the running stack's authorization, and have every
    NATS node read it (SIGHUP); returns once the key is accepted. False: nothing to do (no
    stack with authorization runs here, or the agent is enrolled already)."""
    supervisor = Supervisor(stack)
    if not auth.enabled(stack.home) or supervisor.pid() is None:
        return False
    if not auth.enrol(stack.home, agent):
        return False
    auth.reload(supervisor.nats_pids())
    key = credentials.for_principal(credentials.agent_principal(agent.agent_id), stack.home)
    asyncio.run(_accepted(url, key, timeout))
    return True


async def _accepted(url: str, key: credentials.Credentials, timeout: float) -> None:
    """Wait until the servers take ``key`` (a reload is applied a moment after the signal)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            nc = await nats.connect(
                natsurls.split(url), allow_reconnect=False, connect_timeout=1.0,
                error_cb=_quiet, **key.options(),
            )  # fmt: skip
        except Exception:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        await nc.close()
        return


async def _quiet(_: Exception) -> None:
    return None
