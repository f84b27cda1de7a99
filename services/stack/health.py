"""Is the stack healthy? Every service answers discovery and every pool agent is live (or
up with a failing backend, which its card says)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable

import nats
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError

from schemas import subjects
from schemas.team import AgentCard
from services._runtime import natsurls
from services._runtime.credentials import Credentials
from services._runtime.lifecycle import SERVICE_PREFIX
from services.broker.registry import Registry, read_cards

SERVICE_NAMES = ("broker", "agent_runner", "reviewer", "voter", "gate")  # the deliberation
STACK_SERVICES = (*SERVICE_NAMES, "gateway")  # what `make up` runs and waits for
PING = "$SRV.PING"


async def discover(nc: Client, wait: float = 0.3) -> dict[str, int]:
    """Replicas answering ``$SRV.PING``, by NSED service name."""
    inbox = nc.new_inbox()
    counts: dict[str, int] = {}
    sub = await nc.subscribe(inbox)
    await nc.publish(PING, b"", reply=inbox)
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await sub.next_msg(timeout=left)
        except (TimeoutError, nats.errors.TimeoutError):
            break
        if not msg.data:  # a "no responders" status, not a service
            continue
        try:
            name = str(json.loads(msg.data).get("name", ""))
        except (ValueError, AttributeError):
            continue
        if name.startswith(SERVICE_PREFIX):
            key = name[len(SERVICE_PREFIX) :].replace("-", "_")
            counts[key] = counts.get(key, 0) + 1
    await sub.unsubscribe()
    return counts


async def registry(nc: Client, timeout: float = 5.0) -> Registry:
    """The agent registry as the broker sees it, read once from ``nsed_agents``. No bucket
    yet is no agent; a server too busy to answer within ``timeout`` raises ``TimeoutError``
    rather than pass for one with no live agents (``make status`` said "live agents: none"
    beside five, and ``nsed eval`` refused to start, on a loaded machine)."""
    found = Registry(stale_after_s=10.0)
    js = nc.jetstream(timeout=timeout)
    try:
        kv = await js.key_value(subjects.AGENTS_BUCKET)
    except BucketNotFoundError:
        return found
    return await read_cards(js, kv, found)


async def live_agent_ids(nc: Client) -> set[str]:
    return {a.agent_id for a in (await registry(nc)).live()}


async def fresh_cards(nc: Client) -> list[AgentCard]:
    """Every runner instance's fresh card that is not draining, healthy or not."""
    return (await registry(nc)).cards()


async def unhealthy_agents(nc: Client) -> dict[str, str]:
    """Agents whose runners are up while their backends fail: id → why."""
    return {a.agent_id: a.card.health for a in (await registry(nc)).unhealthy()}


async def _quiet(_: Exception) -> None:
    """nats-py's default error callback logs each refused attempt with its traceback; here a
    refused attempt is expected (NATS is starting) and the last one is reported instead."""


async def connect_retrying(
    url: str,
    deadline: float,
    on_wait: Callable[[], None] = lambda: None,
    identity: Credentials | None = None,
) -> Client:
    """Connect once NATS answers (as ``identity``, else anonymously); ``on_wait`` is called
    once if it does not at first."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return await nats.connect(
                natsurls.split(url),
                connect_timeout=1.0,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=_quiet,
                **(identity.options() if identity is not None else {}),
            )
        except Exception as exc:
            if last is None:
                on_wait()
            last = exc
            await asyncio.sleep(0.3)
    if last is None or isinstance(last, nats.errors.NoServersError):
        reason = "nothing answers there"  # every attempt was refused
    else:
        reason = f"{type(last).__name__}: {last}"
    raise TimeoutError(f"NATS at {url} did not come up ({reason})")


async def jetstream_ready(nc: Client, deadline: float) -> bool:
    """Whether JetStream answers its API by ``deadline``: at once on one server; in a
    cluster once its nodes have elected a meta leader (until then requests time out)."""
    js = nc.jetstream(timeout=1.0)
    while True:
        try:
            await js.account_info()
            return True
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError,
                nats.js.errors.ServiceUnavailableError):  # fmt: skip
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.25)


async def wait_healthy(
    url: str,
    agents: Iterable[str],
    timeout: float,
    on_progress: Callable[[str], None] = lambda _: None,
    on_wait: Callable[[], None] = lambda: None,
    services: Iterable[str] = SERVICE_NAMES,
    identity: Credentials | None = None,
) -> list[str]:
    """Wait until healthy; returns what is still missing when ``timeout`` runs out.
    ``on_wait`` is called once if NATS does not answer at first (it is starting).
    ``identity``: whom to connect as (``admin`` on a stack with authorization)."""
    deadline = time.monotonic() + timeout
    expected_agents = set(agents)
    expected_services = tuple(services)
    on_progress(f"waiting for NATS at {url}")
    try:
        nc = await connect_retrying(url, deadline, on_wait, identity)
    except TimeoutError as exc:
        return [str(exc)]
    try:
        on_progress("waiting for JetStream (a cluster's nodes first elect a meta leader)")
        if not await jetstream_ready(nc, deadline):
            return ["JetStream (no meta leader: see the nats logs)"]
        missing: list[str] = []
        while time.monotonic() < deadline:
            found = await discover(nc)
            try:
                agents_now = await registry(nc)
            except TimeoutError:  # a busy server: not an answer yet
                agents_now = Registry(stale_after_s=10.0)
            # An unhealthy agent is up: its backend is what fails, and no wait mends that
            # (`nsed stack status` says why).
            up = {a.agent_id for a in [*agents_now.live(), *agents_now.unhealthy()]}
            missing = [f"service {s}" for s in expected_services if not found.get(s)]
            missing += [f"agent {a}" for a in sorted(expected_agents - up)]
            if not missing:
                return []
            on_progress("waiting for " + ", ".join(missing))
            await asyncio.sleep(0.5)
        return missing
    finally:
        await nc.close()
