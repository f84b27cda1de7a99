"""Composition root of the gateway: runtime, read side, HTTP site, graceful drain.

The gateway has no route of its own on NATS: it publishes tasks and cancellations as a
client does, and reads records, cards, events and results. Shutdown is the runtime's one
sequence (``lifecycle.serve``), whose ``drain`` step here is aiohttp's: stop listening,
let the requests in flight finish within ``shutdown_grace_s``, then cancel the rest (each
cancelled request cancels its task: ``handlers``).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiohttp import web

from schemas import subjects
from services._runtime.errors import ConfigError
from services._runtime.lifecycle import Plan, open_runtime, serve
from services.broker import registry as registry_mod
from services.gateway.app import build_app
from services.gateway.feed import Feed
from services.gateway.handlers import Council
from services.gateway.outbox import Outbox
from services.gateway.settings import GatewaySettings
from services.gateway.web import WebOptions

log = structlog.get_logger("gateway")
SYNC_TIMEOUT_S = 10.0  # for the first snapshot of the pool and the records


async def serve_gateway(settings: GatewaySettings, stop: asyncio.Event) -> None:
    async with open_runtime("gateway", settings, stop=stop) as rt:
        feed = Feed(
            rt.nc,
            records=await rt.bus.kv(subjects.DELIBERATIONS_BUCKET),
            agents=await rt.bus.kv(subjects.AGENTS_BUCKET),
        )
        council = Council(feed=feed, outbox=Outbox(rt.nc), settings=settings)
        runner = web.AppRunner(
            build_app(
                council,
                feed,
                settings.keys(),
                rt.tracer,
                WebOptions(jaeger_url=settings.jaeger_url, recent_limit=settings.recent_limit),
            ),
            handler_cancellation=True,  # a client that goes away cancels its request
            shutdown_timeout=settings.shutdown_grace_s,
            access_log=None,  # one summary line per request is the handler's
        )
        await runner.setup()
        plan = Plan(routes=())

        async def watch_pool(stop: asyncio.Event) -> None:
            await registry_mod.watch(feed.agents, feed.registry, stop, rt.on_reconnect())

        async def watch_records(stop: asyncio.Event) -> None:
            await registry_mod.watch(feed.records, feed.index, stop, rt.on_reconnect())

        async def before_start() -> None:
            # No request before the pool is known: an empty pool would answer 503.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.registry.synced.wait(), timeout=SYNC_TIMEOUT_S)
            site = web.TCPSite(runner, settings.host, settings.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"gateway: cannot listen on {settings.host}:{settings.port}: "
                    f"{exc.strerror or exc} (set NSED_GATEWAY_PORT to a free port)"
                ) from exc
            plan.metadata["url"] = f"http://{settings.host}:{site.port}"
            log.info("listening", url=plan.metadata["url"])

        plan.background = [watch_pool, watch_records]
        plan.before_start = before_start
        plan.drain = runner.cleanup
        plan.after_drain = council.settle  # the cancels of requests cut off by the drain
        try:
            await serve(rt, plan)
        finally:
            if runner.server is not None:  # serve failed before its drain
                await runner.cleanup()
