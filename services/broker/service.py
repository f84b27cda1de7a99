"""Composition root of the broker: registry watch + record store + routes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial

import structlog

from schemas import subjects
from services._runtime.lifecycle import Plan, open_runtime, serve
from services._runtime.records import KvRecordStore
from services._runtime.references import KvReferenceStore
from services._runtime.taskspans import TaskSpans
from services.broker import registry as registry_mod
from services.broker.admission import Admission
from services.broker.handlers import BrokerDeps
from services.broker.registry import Registry, StatsCache
from services.broker.routes import routes
from services.broker.settings import BrokerSettings

log = structlog.get_logger("broker")


async def serve_broker(settings: BrokerSettings, stop: asyncio.Event) -> None:
    async with open_runtime("broker", settings, stop=stop) as rt:
        registry = Registry(stale_after_s=settings.stale_after_s)
        stats = StatsCache()
        agents = await rt.bus.kv(subjects.AGENTS_BUCKET)
        measured = await rt.bus.kv(subjects.STATS_BUCKET)
        store = KvRecordStore(await rt.bus.kv(subjects.DELIBERATIONS_BUCKET))
        admission = Admission(
            registry, queue_per_slot=settings.queue_per_slot, poll_s=settings.admission_poll_s
        )
        deps = BrokerDeps(
            store=store,
            registry=registry,
            clock=time.time,
            settings=settings,
            stats=stats,
            spans=TaskSpans(rt.tracer),
            admission=admission if settings.queue_per_slot > 0 else None,
            references=KvReferenceStore(await rt.bus.kv(subjects.REFERENCES_BUCKET)),
            refresh=partial(registry_mod.read_cards, rt.bus.js, agents, registry),
        )

        async def watch(stop: asyncio.Event) -> None:
            await registry_mod.watch(agents, registry, stop, rt.on_reconnect())

        async def watch_stats(stop: asyncio.Event) -> None:
            await registry_mod.watch(measured, stats, stop, rt.on_reconnect())

        async def admit(stop: asyncio.Event) -> None:
            await admission.poll(rt.bus.js, stop)

        async def before_start() -> None:
            # Take no task before the registry has its first snapshot: a broker that
            # restarts must not answer `no_team` because it has not looked yet.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    registry.synced.wait(), timeout=settings.registry_sync_timeout_s
                )
            log.info("registry_synced", agents=[a.agent_id for a in registry.live()])

        await serve(
            rt,
            Plan(
                routes=routes(deps),
                background=[watch, watch_stats, admit],
                before_start=before_start,
            ),
        )
