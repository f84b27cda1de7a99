"""``nsed agents``, ``nsed result`` and ``nsed watch``: read-only views of a running stack."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import msgspec
import nats.errors
from rich.console import Console
from rich.table import Column, Table

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.record import DeliberationRecord
from schemas.team import AgentCard
from services.broker.registry import LiveAgent, Registry
from services.cli import client
from services.cli.client import CliError
from services.cli.feed import EventFeed
from services.cli.submit import print_answer
from services.cli.view import (
    RoundCounts,
    is_simulated,
    lines_for,
    simulated_notice,
    summary_line,
    warning_lines,
)
from services.core.events import event_decoder


async def agent_pool() -> Registry:
    """The live agents, those up whose backends fail (not seated), and the failing
    instances of live agents."""
    nc = await client.connect()
    try:
        return await client.agent_registry(nc)
    finally:
        await nc.close()


def agent_json(agent: LiveAgent) -> dict[str, Any]:
    card = msgspec.to_builtins(agent.card)
    card.pop("instance_id", None)
    card.update(instances=agent.instances, capacity=agent.capacity, in_flight=agent.in_flight)
    return dict(card)


def print_agents(
    agents: list[LiveAgent],
    as_json: bool,
    console: Console | None = None,
    unhealthy: list[LiveAgent] | None = None,
    failing: list[AgentCard] | None = None,
) -> None:
    """The live pool as a table, then one line per unhealthy agent, and per unhealthy
    instance of a live agent, with the reason; with ``as_json``, one list of the agents
    (``healthy`` tells them apart)."""
    unhealthy = unhealthy or []
    if as_json:
        listed = [agent_json(a) for a in [*agents, *unhealthy]]
        sys.stdout.write(msgspec.json.encode(listed).decode() + "\n")
        return
    out = console or client.console()
    if agents:
        out.print(agents_table(agents))
    else:
        client.console(stderr=True).print("no live agents")
    for a in unhealthy:
        out.print(f"unhealthy, not seated: {a.agent_id}: {a.card.health}", markup=False)
    for card in failing or []:
        out.print(failing_line(card), markup=False)


def failing_line(card: AgentCard) -> str:
    return (
        f"unhealthy instance of {card.agent_id} (instance {card.instance_id}, model "
        f"{card.model}, backend {card.backend}): {card.health}; it still takes a share of "
        f"{card.agent_id}'s work"
    )


def agents_table(agents: list[LiveAgent]) -> Table:
    # An agent id is typed back by the user (--team, nsed agent run): on a narrow terminal
    # the other columns give way (cut short), and the id keeps its full width on one line.
    widest = max(len(a.agent_id) for a in agents)
    table = Table(
        Column("agent", no_wrap=True, min_width=widest, overflow="fold"),
        "model",
        "family",
        "backend",
        "p_g/p_v",
        "$/Mtok in/out",
        "instances",
        "busy/capacity",
        "latency",
    )
    for a in agents:
        prior = a.card.prior("default")
        table.add_row(
            a.agent_id,
            a.card.model,
            a.card.family,
            a.card.backend,
            f"{prior.p_g:.2f}/{prior.p_v:.2f}",
            f"{a.card.price_in_per_mtok:g}/{a.card.price_out_per_mtok:g}",
            str(a.instances),
            f"{a.in_flight}/{a.in_flight + a.capacity}",
            f"{a.card.latency_s:.2f}s",
        )
    return table


async def result(task_id: str, as_json: bool) -> int:
    nc = await client.connect()
    try:
        found = await client.stored_result(nc, task_id)
        if found is None:
            record = await task_record(nc, task_id)
            if record is None:
                raise CliError(f"no task {task_id!r} on this server")
            cur = record.current
            print(
                f"nsed: task {task_id} has no result yet (round {cur.number}, {cur.phase})",
                file=sys.stderr,
            )
            return client.EXIT_PENDING
    finally:
        await nc.close()
    if as_json:
        sys.stdout.write(msgspec.json.encode(found).decode() + "\n")
    else:
        print_answer(found)
    return client.exit_code(found)


async def task_record(nc: Any, task_id: str) -> DeliberationRecord | None:
    """The task's deliberation record, or None if this server has none."""
    js = nc.jetstream(timeout=client.CONNECT_TIMEOUT_S)
    try:
        kv = await js.key_value(subjects.DELIBERATIONS_BUCKET)
        entry = await kv.get(task_id)
    except Exception:
        return None
    return msgspec.json.decode(entry.value, type=DeliberationRecord) if entry.value else None


async def watch(task_id: str, timeout: float) -> int:
    """Replay a task's events from the start, then follow them until its result."""
    nc = await client.connect(follow=True)
    console = client.console()
    counts = RoundCounts()
    try:
        record = await task_record(nc, task_id)
        if record is None:
            raise CliError(f"no task {task_id!r} on this server")
        simulated = False
        events = EventFeed(nc, task_id, client.CONNECT_TIMEOUT_S)
        await events.open()
        deadline = time.monotonic() + timeout
        final: DeliberationConcluded | None = None
        while final is None and time.monotonic() < deadline:
            msg = await events.next(timeout=1.0)
            if msg is None:
                final = await client.stored_result(nc, task_id, patient=True)
                continue
            try:
                event = event_decoder.decode(msg.data)
            except msgspec.DecodeError:
                continue
            if is_simulated(event) and not simulated:
                simulated = True
                for notice in simulated_notice(record.task.reference_answer is not None):
                    console.print(notice, markup=False)
            for line in lines_for(event, counts):
                console.print(line, markup=False)
        await events.close()
        if final is None:
            print(f"nsed: {task_id} has not finished yet", file=sys.stderr)
            return client.EXIT_PENDING
        console.print(summary_line(final), markup=False)
        for warning in warning_lines(final.warnings):
            print(warning, file=sys.stderr)
        if final.extracted_answer is not None:
            console.print(f"answer: {final.extracted_answer}", markup=False)
        return client.exit_code(final)
    except nats.errors.ConnectionClosedError as exc:
        raise client.connection_lost(task_id) from exc
    finally:
        await nc.close()


def run(coro: Any) -> int:
    return int(asyncio.run(coro))
