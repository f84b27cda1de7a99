"""What a client of the stack receives: a plain subscription on ``nsed.results.>``, opened
before the first task and held for a whole benchmark run, NATS restarts included.

Consumes the results published on ``nsed.results.<task_id>``. Emits, per task, every
delivery it received (so a second publish of a result shows up), when each first arrived,
and ``gaps``: the spans of time the subscription was away while its connection
reconnected (a plain subscriber cannot receive what is published then; the results stream
keeps it for clients to look up).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from schemas import subjects
from schemas.gate import DeliberationConcluded
from services._runtime import credentials

_decoder = msgspec.json.Decoder(DeliberationConcluded)


@dataclass
class HeldInbox:
    nc: Client | None = None
    received: dict[str, list[DeliberationConcluded]] = field(default_factory=dict)
    first_at: dict[str, float] = field(default_factory=dict)  # monotonic seconds
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (lost, back), epoch s
    _lost_at: float | None = None
    _arrived: dict[str, asyncio.Event] = field(default_factory=dict)

    @classmethod
    async def open(cls, url: str, home: Path | None = None) -> HeldInbox:
        inbox = cls()
        inbox.nc = await connect(
            url,
            "nsed-bench-inbox",
            home=home,
            disconnected_cb=inbox._disconnected,
            reconnected_cb=inbox._reconnected,
        )
        await inbox.nc.subscribe(subjects.results("*"), cb=inbox._on_message)
        await inbox.nc.flush()
        return inbox

    async def _disconnected(self) -> None:
        if self._lost_at is None:
            self._lost_at = time.time()

    async def _reconnected(self) -> None:
        # nats-py has subscribed again and flushed it before calling back.
        self.gaps.append((self._lost_at or time.time(), time.time()))
        self._lost_at = None

    async def _on_message(self, msg: Msg) -> None:
        result = _decoder.decode(msg.data)
        self.received.setdefault(result.task_id, []).append(result)
        self.first_at.setdefault(result.task_id, time.monotonic())
        self._arrived.setdefault(result.task_id, asyncio.Event()).set()

    def count(self, task_id: str) -> int:
        return len(self.received.get(task_id, ()))

    def answered(self) -> int:
        return len(self.received)

    async def wait(self, task_id: str, timeout: float) -> bool:
        """Whether ``task_id``'s result arrived within ``timeout`` seconds."""
        event = self._arrived.setdefault(task_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def missed(self, stored_at: float) -> bool:
        """Whether a result stored at ``stored_at`` (epoch s) came while this was away."""
        return any(lost <= stored_at < back for lost, back in self.gaps) or (
            self._lost_at is not None and stored_at >= self._lost_at
        )

    async def settle(self) -> None:
        """Once the server answers this flush, everything published before has arrived."""
        assert self.nc is not None
        await self.nc.flush(timeout=10)

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


async def connect(url: str, name: str, home: Path | None = None, **callbacks: Any) -> Client:
    """A benchmark client's connection to every node of ``url`` (comma-separated), as
    ``admin`` of the stack in ``home`` when it has keys. It reconnects fast and forever:
    the services retry every 0.5 s, so this client is back first, and a result is rarely
    published while it is away."""
    identity = credentials.for_principal(credentials.ADMIN, home) if home else None
    return await nats.connect(
        url.split(","),
        name=name,
        connect_timeout=5,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        error_cb=_quiet,
        **(identity.options() if identity is not None else {}),
        **callbacks,
    )


async def _quiet(_: Exception) -> None:
    return None  # nats-py logs every failed reconnect with a traceback otherwise
