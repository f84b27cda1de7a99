"""The five services of a deliberation in one process, without NATS.

Each service's dependencies over one in-memory record store, reference store and clock,
wired by each service's own ``routes(deps)`` on a ``MemoryBus``: the routing is the one
the services run on NATS (their ``service.py`` builds the same deps over the KV buckets).
The unit tier and the quality study deliberate here. A simulated agent joins with
``add_agent``: its card in the registry, as its heartbeat would put it, and its runner.
The gate's stats land where the broker reads them, as the stats bucket and the
broker's watch of it carry them, once the gate's buffer is flushed (``flush_stats``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from schemas import subjects
from schemas.base import Message
from schemas.stats import AgentStats
from services._runtime.memory_bus import MemoryBus
from services._runtime.memory_records import InMemoryRecordStore
from services._runtime.references import InMemoryReferenceStore
from services._runtime.route import Route
from services.agent_runner import routes as runner
from services.agent_runner.backends.sim import SimBackend
from services.agent_runner.config import AgentProfile
from services.agent_runner.handlers import RunnerDeps
from services.agent_runner.heartbeat import card_of
from services.agent_runner.lookups import reference_reader
from services.broker import routes as broker
from services.broker.handlers import BrokerDeps
from services.broker.registry import Registry, StatsCache
from services.broker.settings import BrokerSettings
from services.gate import routes as gate
from services.gate.handlers import GateDeps
from services.gate.settings import GateSettings
from services.gate.stats import StatsBuffer, Update, key
from services.reviewer import routes as reviewer
from services.reviewer.handlers import ReviewerDeps
from services.reviewer.settings import ReviewerSettings
from services.voter import routes as voter
from services.voter.handlers import VoterDeps
from services.voter.settings import VoterSettings

INSTANCE = "i1"  # every in-memory agent has one runner instance
TRUTH_CACHE = 4096


class ManualClock:
    """A clock that moves only when its owner moves it (``now``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def no_sleep(seconds: float) -> None:
    """A simulated call's latency, not slept: the clock is the caller's."""


class SharedStats:
    """The gate's stats store, writing where the broker's cache reads (in NATS: the
    ``nsed_telemetry`` bucket and the broker's watch of it)."""

    def __init__(self, cache: StatsCache) -> None:
        self.cache = cache

    async def apply(self, domain: str, agent_id: str, update: Update) -> None:
        values = self.cache.values
        values[key(domain, agent_id)] = update(values.get(key(domain, agent_id)))

    async def get(self, domain: str, agent_id: str) -> AgentStats | None:
        return self.cache.values.get(key(domain, agent_id))


@dataclass
class InMemoryServices:
    store: InMemoryRecordStore
    references: InMemoryReferenceStore
    clock: Callable[[], float]
    registry: Registry
    broker: BrokerDeps
    reviewer: ReviewerDeps
    voter: VoterDeps
    gate: GateDeps
    runners: dict[str, RunnerDeps] = field(default_factory=dict)

    def add_agent(self, profile: AgentProfile, *, latency_scale: float = 1.0) -> None:
        """A simulated agent: its card (live from now) and its runner, whose simulated
        latency is reported but not slept."""
        now = self.clock()
        self.registry.put(
            subjects.agent_key(profile.id, INSTANCE),
            card_of(profile, INSTANCE, 0, started_at=now, now=now),
        )
        truth = reference_reader(self.references, capacity=TRUTH_CACHE)
        backend = SimBackend(profile, truth, latency_scale=latency_scale, sleep=no_sleep)
        self.runners[profile.id] = RunnerDeps(
            profile=profile, instance_id=INSTANCE, backend=backend, clock=self.clock
        )

    def routes(self) -> dict[str, tuple[Route, ...]]:
        """Every service's routes over these deps: the round's one wiring."""
        return {
            "broker": broker.routes(self.broker),
            "agent_runner": tuple(r for d in self.runners.values() for r in runner.routes(d)),
            "reviewer": reviewer.routes(self.reviewer),
            "voter": voter.routes(self.voter),
            "gate": gate.routes(self.gate),
        }

    def bus(self, after_each: Callable[[], Awaitable[None]] | None = None) -> MemoryBus:
        return MemoryBus(self.routes(), self.clock, after_each=after_each)

    async def flush_stats(self) -> None:
        """What the gate has observed, where the broker values agents by it."""
        await self.gate.stats.flush()

    async def handle(
        self,
        message: Message,
        *,
        subject: str | None = None,
        seq: int = 1,
        delivered: int = 1,
        payload: bytes | None = None,
    ) -> list[Message]:
        """``message`` handed to the route(s) its subject reaches (``MemoryBus.handle``)."""
        return await self.bus().handle(
            message, subject=subject, seq=seq, delivered=delivered, payload=payload
        )


def in_memory(
    clock: Callable[[], float],
    *,
    broker_settings: BrokerSettings | None = None,
    reviewer_settings: ReviewerSettings | None = None,
    voter_settings: VoterSettings | None = None,
    gate_settings: GateSettings | None = None,
) -> InMemoryServices:
    """The services over fresh in-memory stores, with no agent yet."""
    store = InMemoryRecordStore()
    references = InMemoryReferenceStore()
    settings = broker_settings or BrokerSettings()
    registry = Registry(stale_after_s=settings.stale_after_s, clock=clock)
    stats = StatsCache()
    return InMemoryServices(
        store=store,
        references=references,
        clock=clock,
        registry=registry,
        broker=BrokerDeps(
            store=store,
            registry=registry,
            clock=clock,
            settings=settings,
            stats=stats,
            references=references,
        ),
        reviewer=ReviewerDeps(
            store=store, clock=clock, settings=reviewer_settings or ReviewerSettings()
        ),
        voter=VoterDeps(store=store, clock=clock, settings=voter_settings or VoterSettings()),
        gate=GateDeps(
            store=store,
            clock=clock,
            settings=gate_settings or GateSettings(),
            stats=StatsBuffer(SharedStats(stats)),
        ),
    )
