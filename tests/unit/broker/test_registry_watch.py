"""The broker's watch on the agents' bucket, made again after a reconnect: what it knew
stays until the new watch's snapshot is complete, so a broker that just reconnected never
finds the pool empty (and replaces a live team); cards the snapshot lacks then go."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nats.errors

from services.broker.registry import Registry, watch

from ..builders import NOW, Clock, card


class Entry:
    def __init__(self, key: str, value: bytes) -> None:
        self.key = key
        self.value = value
        self.operation = None


class Watcher:
    """One watch: its snapshot's entries, then None, then timeouts; ``on_update`` sees the
    registry before each update is applied."""

    def __init__(self, entries: list[Entry | None], on_update: Any) -> None:
        self.entries = entries
        self.on_update = on_update

    async def updates(self, timeout: float) -> Entry | None:
        if not self.entries:
            await asyncio.sleep(0)
            raise nats.errors.TimeoutError
        self.on_update(len(self.entries))
        return self.entries.pop(0)

    async def stop(self) -> None:
        return None


class Kv:
    def __init__(self, watches: list[Watcher]) -> None:
        self.watches = watches

    async def watchall(self) -> Watcher:
        return self.watches.pop(0)


def _entry(agent: str) -> Entry:
    return Entry(f"{agent}.i-1", msgspec.json.encode(card(agent, updated_at=NOW)))


async def test_a_watch_made_again_keeps_the_pool_until_its_snapshot_is_complete() -> None:
    registry = Registry(stale_after_s=10.0, clock=Clock(NOW))
    stop, reconnected = asyncio.Event(), asyncio.Event()
    seen: list[set[str]] = []

    def first(left: int) -> None:
        if left == 1:  # the first snapshot is in: the connection is lost and comes back
            asyncio.get_running_loop().call_soon(reconnected.set)

    def second(left: int) -> None:
        seen.append({a.agent_id for a in registry.live()})
        if left == 1:
            asyncio.get_running_loop().call_soon(stop.set)

    kv = Kv([
        Watcher([_entry("alpha"), _entry("bravo"), _entry("charlie"), None], first),
        Watcher([_entry("alpha"), _entry("charlie"), None], second),
    ])  # fmt: skip
    await asyncio.wait_for(watch(kv, registry, stop, reconnected), timeout=10)  # type: ignore[arg-type]

    # While the new snapshot came in, the whole pool stayed live; bravo, which the new
    # snapshot lacks (its runner left while the broker was away), went at its end.
    assert seen == [{"alpha", "bravo", "charlie"}] * 3
    assert {a.agent_id for a in registry.live()} == {"alpha", "charlie"}
