"""Composition root of the voter."""

from __future__ import annotations

import asyncio
import time

from schemas import subjects
from services._runtime.lifecycle import Plan, open_runtime, serve
from services._runtime.records import KvRecordStore
from services.voter.handlers import VoterDeps
from services.voter.routes import routes
from services.voter.settings import VoterSettings


async def serve_voter(settings: VoterSettings, stop: asyncio.Event) -> None:
    async with open_runtime("voter", settings, stop=stop) as rt:
        store = KvRecordStore(await rt.bus.kv(subjects.DELIBERATIONS_BUCKET))
        deps = VoterDeps(store=store, clock=time.time, settings=settings)
        await serve(rt, Plan(routes=routes(deps)))
