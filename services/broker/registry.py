"""The live agent registry, fed by a watch on ``nsed_agents`` (§8).

Each key is one runner instance (``<agent_id>.<instance_id>``). An agent is live while at
least one of its instances has a fresh card that is neither draining nor unhealthy (its
backend fails); its capacity is the sum of its live instances' free concurrency. The watch
is re-created after a reconnect, and a card that stopped being refreshed is ignored even if
its expiry marker was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec
import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from schemas import subjects
from schemas.stats import AgentStats
from schemas.team import AgentCard
from services._runtime.retry import Outage
from services._runtime.route import UNDECODABLE

log = structlog.get_logger("registry")
_decoder = msgspec.json.Decoder(AgentCard)
_stats = msgspec.json.Decoder(AgentStats)


@dataclass(frozen=True)
class LiveAgent:
    card: AgentCard  # the freshest instance's card
    instances: int
    capacity: int
    in_flight: int

    @property
    def agent_id(self) -> str:
        return self.card.agent_id


class Registry:
    def __init__(self, *, stale_after_s: float, clock: Callable[[], float] = time.time) -> None:
        self._cards: dict[str, AgentCard] = {}
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.synced = asyncio.Event()

    def put(self, key: str, card: AgentCard) -> None:
        self._cards[key] = card

    def remove(self, key: str) -> None:
        self._cards.pop(key, None)

    def clear(self) -> None:
        self._cards.clear()

    def retain(self, keys: set[str]) -> None:
        """Forget every card whose key is not in ``keys`` (a new watch's snapshot)."""
        self._cards = {k: v for k, v in self._cards.items() if k in keys}

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        if operation in ("DEL", "PURGE") or not value:
            self.remove(key)
            return
        try:
            self.put(key, _decoder.decode(value))
        except UNDECODABLE as exc:
            log.warning("bad_agent_card", key=key, error=str(exc))

    def live(self) -> list[LiveAgent]:
        """The agents the broker may seat: those with a fresh, healthy card not draining."""
        return self._agents(lambda card: card.healthy)

    def unhealthy(self) -> list[LiveAgent]:
        """Agents whose runners are up but whose backends fail: none of their fresh cards
        not draining is healthy (the freshest says why)."""
        healthy = {a.agent_id for a in self.live()}
        return [a for a in self._agents(lambda card: True) if a.agent_id not in healthy]

    def failing_instances(self) -> list[AgentCard]:
        """Unhealthy instances of agents that are live through another instance: the agent
        is seated, and these still take their share of its work (one durable consumer)."""
        live = {a.agent_id for a in self.live()}
        failing = [c for c in self.cards() if not c.healthy and c.agent_id in live]
        return sorted(failing, key=lambda c: (c.agent_id, c.instance_id))

    def cards(self) -> list[AgentCard]:
        """Every instance's fresh card that is not draining, healthy or not."""
        now = self.clock()
        return [
            card
            for card in self._cards.values()
            if not card.draining and now - card.updated_at <= self.stale_after_s
        ]

    def _agents(self, keep: Callable[[AgentCard], bool]) -> list[LiveAgent]:
        by_agent: dict[str, list[AgentCard]] = {}
        for card in self.cards():
            if keep(card):
                by_agent.setdefault(card.agent_id, []).append(card)
        live = []
        for agent_id in sorted(by_agent):
            cards = by_agent[agent_id]
            freshest = max(cards, key=lambda c: c.updated_at)
            live.append(
                LiveAgent(
                    card=freshest,
                    instances=len(cards),
                    capacity=sum(max(c.max_concurrency - c.in_flight, 0) for c in cards),
                    in_flight=sum(c.in_flight for c in cards),
                )
            )
        return live


class StatsCache:
    """The gate's per-agent stats (``nsed_telemetry``), kept by a watch like the agents."""

    def __init__(self) -> None:
        self.values: dict[str, AgentStats] = {}
        self.synced = asyncio.Event()

    def retain(self, keys: set[str]) -> None:
        self.values = {k: v for k, v in self.values.items() if k in keys}

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None:
        if operation in ("DEL", "PURGE") or not value:
            self.values.pop(key, None)
            return
        try:
            self.values[key] = _stats.decode(value)
        except UNDECODABLE as exc:
            log.warning("bad_telemetry", key=key, error=str(exc))


class Updates(Protocol):
    """The part of nats-py's ``KeyWatcher`` a watch uses, typed here because nats-py leaves
    those two methods unannotated."""

    async def updates(self, timeout: float = ...) -> KeyValue.Entry | None: ...

    async def stop(self) -> None: ...


class Watched(Protocol):
    synced: asyncio.Event

    def retain(self, keys: set[str]) -> None: ...

    def apply(self, key: str, value: bytes | None, operation: str | None) -> None: ...


async def watch(
    kv: KeyValue, registry: Watched, stop: asyncio.Event, reconnected: asyncio.Event
) -> None:
    """Keep ``registry`` in step with the bucket until ``stop``; restart after reconnects.
    A watch that cannot be made (NATS away, or the bucket not made again yet) is tried
    again on a bounded backoff, with one line when that starts and one when it ends."""
    outage = Outage(log, "watch_failed", of=type(registry).__name__)
    while not stop.is_set():
        reconnected.clear()
        try:
            watcher: Updates = await kv.watchall()
        except Exception as exc:
            await _pause(stop, outage.failed(exc))
            continue
        outage.ok()
        # What the registry knew stays until the new watch's snapshot is complete: a
        # broker just reconnected must not find the pool empty and replace a live team.
        snapshot: set[str] | None = set()
        try:
            while not stop.is_set() and not reconnected.is_set():
                try:
                    entry = await watcher.updates(timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                if entry is None:  # the initial snapshot is complete
                    if snapshot is not None:
                        registry.retain(snapshot)
                        snapshot = None
                    registry.synced.set()
                    continue
                if snapshot is not None:
                    snapshot.add(entry.key)
                registry.apply(entry.key, entry.value, entry.operation)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()
        if reconnected.is_set():
            log.info("watch_restarted_after_reconnect")


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def read_cards(js: JetStreamContext, kv: KeyValue, into: Registry) -> Registry:
    """Every key's latest card, applied to ``into``. The keys are the stream's subjects,
    one request: nats-py's ``kv.keys()`` leaves an ordered consumer behind on each call
    (a burst of reads meets the server's consumer limit), and its watch can end on a
    consumer count that arrived before the messages, listing no key at all."""
    prefix = f"$KV.{subjects.AGENTS_BUCKET}."
    info = await js.stream_info(f"KV_{subjects.AGENTS_BUCKET}", subjects_filter=f"{prefix}>")
    for subject in sorted(info.state.subjects or {}):
        key = subject[len(prefix) :]
        try:
            entry = await kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):  # deregistered, or gone since the list
            continue
        into.apply(key, entry.value, entry.operation)
    return into
