"""Composition root of the reviewer."""

from __future__ import annotations

import asyncio
import time

from schemas import subjects
from services._runtime.lifecycle import Plan, open_runtime, serve
from services._runtime.records import KvRecordStore
from services.reviewer.handlers import ReviewerDeps
from services.reviewer.routes import routes
from services.reviewer.settings import ReviewerSettings


async def serve_reviewer(settings: ReviewerSettings, stop: asyncio.Event) -> None:
    async with open_runtime("reviewer", settings, stop=stop) as rt:
        store = KvRecordStore(await rt.bus.kv(subjects.DELIBERATIONS_BUCKET))
        deps = ReviewerDeps(store=store, clock=time.time, settings=settings)
        await serve(rt, Plan(routes=routes(deps)))
