"""Live membership (§8): this runner's ``AgentCard`` in ``nsed_agents`` with a per-key TTL.

The card is re-published every ``heartbeat_s`` with a TTL of ``heartbeat_ttl_s``, so a
runner that dies vanishes from the registry within the TTL; a runner that stops gracefully
first announces ``draining`` and deletes its key once its in-flight work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import msgspec
import structlog

from schemas import subjects
from schemas.team import AgentCard
from services._runtime.bus import Bus
from services._runtime.lifecycle import VERSION
from services._runtime.retry import Outage
from services.agent_runner.config import AgentProfile
from services.agent_runner.handlers import Gauge
from services.agent_runner.latency import Latency

log = structlog.get_logger("heartbeat")


def card_of(
    profile: AgentProfile,
    instance_id: str,
    in_flight: int,
    *,
    started_at: float,
    now: float,
    draining: bool = False,
    latency: tuple[float, float] | None = None,
    health: tuple[bool, str] = (True, ""),
) -> AgentCard:
    """The card as the broker sees it; ``latency``: the measured (median, p95), else the
    pool's declared prior; ``health``: whether the backend works, and why not."""
    median, p95 = latency or profile.latency_estimate()
    healthy, reason = health
    return AgentCard(
        agent_id=profile.id,
        instance_id=instance_id,
        model=profile.model,
        family=profile.family,
        backend=profile.backend,
        capabilities=profile.fillable_roles(),
        domains=profile.priors(),
        price_in_per_mtok=profile.price_in_per_mtok,
        price_out_per_mtok=profile.price_out_per_mtok,
        max_concurrency=profile.max_concurrency,
        in_flight=in_flight,
        context_window=profile.context_window,
        latency_s=median,
        latency_p95_s=p95,
        version=VERSION,
        started_at=started_at,
        updated_at=now,
        draining=draining,
        healthy=healthy,
        health=reason,
    )


class Heartbeat:
    def __init__(
        self,
        bus: Bus,
        profile: AgentProfile,
        instance_id: str,
        in_flight: Gauge,
        *,
        every_s: float,
        ttl_s: float,
        latency: Latency | None = None,
        health: Callable[[], tuple[bool, str]] = lambda: (True, ""),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.profile = profile
        self.instance_id = instance_id
        self.in_flight = in_flight
        self.every_s = every_s
        self.ttl_s = ttl_s
        self.clock = clock
        self.latency = latency
        self.health = health
        self.started_at = clock()
        self.key = subjects.agent_key(profile.id, instance_id)

    async def beat(self, *, draining: bool = False) -> None:
        card = card_of(
            self.profile,
            self.instance_id,
            self.in_flight.value,
            started_at=self.started_at,
            now=self.clock(),
            draining=draining,
            latency=self.latency.estimate() if self.latency else None,
            health=self.health(),
        )
        await self.bus.publish_raw(
            subjects.kv_subject(subjects.AGENTS_BUCKET, self.key),
            msgspec.json.encode(card),
            msg_ttl=self.ttl_s,
        )

    async def run(self, stop: asyncio.Event) -> None:
        outage = Outage(log, "heartbeat_failed")
        while not stop.is_set():
            try:
                await self.beat()
            except Exception as exc:  # NATS away: keep beating; the TTL tells the truth
                outage.failed(exc)
            else:
                outage.ok()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
        with contextlib.suppress(Exception):
            await self.beat(draining=True)

    async def remove(self) -> None:
        kv = await self.bus.kv(subjects.AGENTS_BUCKET)
        await kv.delete(self.key)
        log.info("deregistered", key=self.key)
