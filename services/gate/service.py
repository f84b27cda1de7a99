"""Composition root of the gate."""

from __future__ import annotations

import asyncio
import time

from schemas import subjects
from services._runtime.lifecycle import Plan, open_runtime, serve
from services._runtime.records import KvRecordStore, KvStatsStore
from services._runtime.taskspans import TaskSpans
from services.gate.handlers import GateDeps
from services.gate.routes import routes
from services.gate.settings import GateSettings
from services.gate.stats import StatsBuffer


async def serve_gate(settings: GateSettings, stop: asyncio.Event) -> None:
    async with open_runtime("gate", settings, stop=stop) as rt:
        store = KvRecordStore(await rt.bus.kv(subjects.DELIBERATIONS_BUCKET))
        stats = StatsBuffer(KvStatsStore(await rt.bus.kv(subjects.STATS_BUCKET)))
        deps = GateDeps(
            store=store,
            clock=time.time,
            settings=settings,
            stats=stats,
            spans=TaskSpans(rt.tracer),
        )
        await serve(
            rt,
            Plan(routes=routes(deps), background=[stats.run], after_drain=stats.flush),
        )
