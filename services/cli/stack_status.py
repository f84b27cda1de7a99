"""``nsed stack status`` (``make status``), and what ``up`` and ``down`` say about the
runners the stack did not start: its processes, the services answering discovery, the
live and unhealthy agents, and the runners started by hand or elsewhere."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from schemas.team import AgentCard
from services.agent_runner.runfile import RunnerEntry
from services.broker.registry import Registry
from services.cli import client
from services.cli.inspect import failing_line
from services.stack import cluster, health, model_servers, runners
from services.stack.supervisor import (
    StackPaths,
    Supervisor,
    same_server,
    stack_gateway_url,
    stack_nats_url,
)


@dataclass
class Seen:
    """What the stack's NATS says, read over one connection."""

    services: dict[str, int] = field(default_factory=dict)
    registry: Registry = field(default_factory=lambda: Registry(stale_after_s=10.0))

    @property
    def cards(self) -> list[AgentCard]:
        return self.registry.cards()


async def look(url: str, services: bool = True) -> Seen:
    nc = await client.connect(url)
    try:
        found = await health.discover(nc) if services else {}
        return Seen(services=found, registry=await health.registry(nc))
    finally:
        await nc.close()


def stack_url(stack: StackPaths) -> str:
    """The URL the stack's processes were given, else NSED_NATS_URL's."""
    return stack_nats_url(stack) or client.nats_url()


def print_status(stack: StackPaths) -> int:
    console = client.console()  # lines are never cut off a terminal
    supervisor = Supervisor(stack)
    pid = supervisor.pid()
    hand = runners.by_hand(stack.home, None if pid is None else stack_url(stack))
    if pid is None:
        console.print("NSED is not running (no supervisord).")
        print_by_hand(console, hand)
        return 1
    table = Table("process", "state", "pid", "uptime", title=f"supervisord pid {pid}")
    for proc in supervisor.processes():
        uptime = max(proc["now"] - proc["start"], 0) if proc["start"] else 0
        table.add_row(proc["name"], proc["statename"], str(proc["pid"] or "-"), f"{uptime}s")
    console.print(table)
    url = client.nats_url()
    listening = stack_nats_url(stack)
    if listening is not None and not same_server(listening, url):
        console.print(
            f"NATS: this stack listens on {listening} (NSED_NATS_URL is {url}; "
            f"set NSED_NATS_URL={listening} for the other commands)",
            markup=False,
        )
        url = listening
    recorded = cluster.load(stack.home)
    if recorded is not None and len(recorded.urls) > 1:
        console.print(
            f"NATS cluster of {len(recorded.urls)} nodes: {', '.join(recorded.urls)}; "
            f"streams and buckets keep {recorded.replicas} replicas",
            markup=False,
        )
    for line in model_servers.load(stack.home):
        console.print(f"model server {line}", markup=False)
    seen = asyncio.run(look(url))
    replicas = ", ".join(f"{name}×{count}" for name, count in sorted(seen.services.items()))
    console.print(f"services answering discovery: {replicas or 'none'}")
    gateway = stack_gateway_url(stack)
    if gateway is not None:
        console.print(f"gateway: {gateway}/v1 (OpenAI-compatible) · {gateway}/ (web view)")
    live = [a.agent_id for a in seen.registry.live()]
    console.print(f"live agents: {', '.join(live) or 'none'}")
    for agent in seen.registry.unhealthy():
        console.print(f"unhealthy, not seated: {agent.agent_id}: {agent.card.health}", markup=False)
    for card in seen.registry.failing_instances():
        console.print(failing_line(card), markup=False)
    print_by_hand(console, hand)
    for card in runners.elsewhere(seen.cards, stack.home):
        console.print(
            f"runner not started with this NSED_HOME: {runners.name_card(card)}", markup=False
        )
    return 0


def print_by_hand(console: Console, hand: list[RunnerEntry]) -> None:
    for entry in hand:
        console.print(f"runner started by hand: {runners.name(entry)}", markup=False)


def warn_strangers(console: Console, stack: StackPaths, pool: set[str], pool_name: str) -> None:
    """A warning line per runner live on this stack whose agent is not in the pool: the
    broker may seat it (left over from another pool's stack, say)."""
    url = stack_url(stack)
    hand = [r for r in runners.by_hand(stack.home, url) if r.agent_id not in pool]
    for entry in hand:
        console.print(
            f"warning: {runners.name(entry)} was started by hand and is not in {pool_name}; "
            "it can be seated: `make down` stops it",
            markup=False,
        )
    cards = asyncio.run(look(url, services=False)).cards
    for card in runners.elsewhere(cards, stack.home):
        if card.agent_id not in pool:
            console.print(
                f"warning: agent {runners.name_card(card)} is live here, not in {pool_name} "
                "and not started with this NSED_HOME; it can be seated: stop it where it runs",
                markup=False,
            )
