"""Service lifecycle: the composition root's helpers and the one shutdown sequence.

``open_runtime`` enters, through one ``AsyncExitStack``, the tracer provider and the NATS
connection, and makes sure the topology exists. ``serve`` starts the route workers and
background tasks, registers the service for discovery (``$SRV.PING.nsed-<service>``, the
health check ``make up`` waits on) and runs until the stop event. Shutdown, always in this
order: stop event set → leave discovery → stop fetching (and the plan's ``drain``: stop
taking requests) → wait (bounded) for in-flight work → cancel what is left →
``after_drain`` hook → flush traces → drain NATS → one summary log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats.micro
import structlog
from nats.aio.client import Client
from opentelemetry import trace

from services._runtime import bus as busmod
from services._runtime import collector, credentials, topology, tracing
from services._runtime.bus import Bus
from services._runtime.errors import ConfigError
from services._runtime.logging import configure_logging
from services._runtime.metrics import Metrics, meter_provider, metrics_to_collector
from services._runtime.route import Route
from services._runtime.settings import ServiceSettings, load_settings
from services._runtime.worker import Worker

VERSION = "0.1.0"
# Beyond the grace period: for work cancelled at its end to say so (a published cancel).
DRAIN_SLACK_S = 5.0
SERVICE_PREFIX = "nsed-"

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class Runtime:
    """Everything a service's composition root hands down to its parts."""

    service: str
    instance_id: str
    settings: ServiceSettings
    nc: Client
    bus: Bus
    tracer: trace.Tracer
    metrics: Metrics
    stop: asyncio.Event
    reconnect_events: list[asyncio.Event] = field(default_factory=list)
    # Creates the streams and buckets again (a server that came back without its store).
    restore_topology: Callable[[], Awaitable[None]] | None = None

    def on_reconnect(self) -> asyncio.Event:
        """An event set at every reconnect, for one watcher to wait on and clear."""
        event = asyncio.Event()
        self.reconnect_events.append(event)
        return event


@dataclass
class Plan:
    """What a service runs: its routes, background loops and lifecycle hooks."""

    routes: Sequence[Route]
    background: Sequence[BackgroundTask] = ()
    before_start: Callable[[], Awaitable[None]] | None = None
    after_drain: Callable[[], Awaitable[None]] | None = None
    # Work that is not a route (the gateway's HTTP requests): awaited beside the workers
    # once the stop event is set, to stop taking work and finish (or cancel) what is in
    # hand within the grace period.
    drain: Callable[[], Coroutine[Any, Any, None]] | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def open_runtime(
    service: str,
    settings: ServiceSettings,
    *,
    stop: asyncio.Event | None = None,
    instance_id: str | None = None,
    principal: str | None = None,
    reads: Sequence[str] = (),
) -> AsyncIterator[Runtime]:
    """Connect as ``principal`` (default: the service) and make the topology, or, given
    ``reads`` (streams a principal that may not make them reads), wait for those."""
    instance = instance_id or uuid.uuid4().hex[:12]
    identity = credentials.for_principal(principal or service, settings.home)
    watchers: list[asyncio.Event] = []

    async def on_reconnect() -> None:
        for event in watchers:
            event.set()

    async with contextlib.AsyncExitStack() as exits:
        provider = tracing.tracer_provider(service, instance, home=settings.home)
        exits.callback(provider.shutdown)  # flushes spans; runs after NATS is drained
        meters = meter_provider(service, instance, settings.home, metrics_to_collector())
        exits.callback(meters.shutdown)
        name = f"nsed-{service}-{instance}"
        nc = await _connect_at_startup(settings, name, on_reconnect, identity)
        exits.push_async_callback(_drain, nc)
        bus = Bus(nc, service)
        timeout = settings.startup_timeout_s
        # Without a key there is no authorization to keep anyone from making streams (a
        # plain nats-server): whoever comes first makes them, as before.
        if reads and identity.seed is not None:
            make_topology = one_at_a_time(lambda: topology.wait_for(bus.js, reads, timeout))
        else:
            make_topology = one_at_a_time(
                lambda: topology.ensure_topology(
                    bus.js, replicas=settings.stream_replicas, timeout=timeout
                )
            )
        await make_topology()
        yield Runtime(
            service=service,
            instance_id=instance,
            settings=settings,
            nc=nc,
            bus=bus,
            tracer=provider.get_tracer(f"nsed.{service}"),
            metrics=Metrics(meters.get_meter(f"nsed.{service}")),
            stop=stop or asyncio.Event(),
            reconnect_events=watchers,
            restore_topology=make_topology,
        )


def one_at_a_time(run: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """``run``, but a caller that comes while it is running waits for that run instead of
    starting another (every pull loop of a service may find the streams gone at once)."""
    lock = asyncio.Lock()

    async def once() -> None:
        if lock.locked():
            async with lock:
                return
        async with lock:
            await run()

    return once


async def _connect_at_startup(
    settings: ServiceSettings,
    name: str,
    on_reconnect: Callable[[], Awaitable[None]],
    identity: credentials.Credentials,
) -> Client:
    """Connect; nats-py keeps trying while NATS is still starting (a process manager starts
    everything at once), for at most ``startup_timeout_s``."""
    try:
        return await asyncio.wait_for(
            busmod.connect(
                settings.nats_url,
                name,
                timeout=settings.connect_timeout_s,
                on_reconnect=on_reconnect,
                credentials=identity,
            ),
            timeout=settings.startup_timeout_s,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot connect to NATS at {settings.nats_url} within "
            f"{settings.startup_timeout_s:g}s: {exc!r}"
        ) from exc


async def _drain(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(nc.drain(), timeout=5.0)
    if not nc.is_closed:
        with contextlib.suppress(Exception):
            await nc.close()


async def serve(rt: Runtime, plan: Plan) -> None:
    log = structlog.get_logger("lifecycle")
    started = time.monotonic()
    settings = rt.settings
    workers = [
        Worker(
            rt.bus,
            route,
            service=rt.service,
            tracer=rt.tracer,
            concurrency=settings.concurrency,
            ack_wait_s=settings.ack_wait_s,
            max_deliver=settings.max_deliver,
            on_outputs=rt.metrics.observe,
            restore=rt.restore_topology,
        )
        for route in plan.routes
    ]
    background = [asyncio.create_task(task(rt.stop)) for task in plan.background]
    if plan.before_start is not None:
        await plan.before_start()
    for worker in workers:
        await worker.start()
    running = [asyncio.create_task(w.run(rt.stop)) for w in workers]
    discovery = await nats.micro.add_service(
        rt.nc,
        name=SERVICE_PREFIX + rt.service.replace("_", "-"),
        version=VERSION,
        description=f"NSED {rt.service}",
        metadata={"instance": rt.instance_id, **plan.metadata},
    )
    log.info("ready", instance=rt.instance_id, routes=[r.name for r in plan.routes])
    stop_wait = asyncio.create_task(rt.stop.wait())
    await asyncio.wait([stop_wait, *running, *background], return_when=asyncio.FIRST_COMPLETED)
    crashed = [
        t for t in (*running, *background) if t.done() and not t.cancelled() and t.exception()
    ]
    rt.stop.set()
    with contextlib.suppress(Exception):
        await discovery.stop()
    # Workers stop fetching at once and finish the message in hand, within the grace period.
    drain = asyncio.create_task(plan.drain()) if plan.drain is not None else None
    pending: set[asyncio.Task[None]] = set()
    if running:  # asyncio.wait refuses an empty set
        _, pending = await asyncio.wait(running, timeout=settings.shutdown_grace_s)
    if drain is not None:
        _, left = await asyncio.wait([drain], timeout=settings.shutdown_grace_s + DRAIN_SLACK_S)
        pending |= left
    for task in (*pending, *background):
        task.cancel()
    await asyncio.gather(*pending, *background, return_exceptions=True)
    for worker in workers:
        await worker.unsubscribe()
    if plan.after_drain is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(plan.after_drain(), timeout=5.0)
    log.info(
        "stopped",
        handled=sum(w.handled for w in workers),
        abandoned=len(pending),
        uptime_s=round(time.monotonic() - started, 1),
    )
    for task in crashed:
        raise RuntimeError(f"{rt.service} part failed") from task.exception()


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop (libuv) unless ``NSED_EVENT_LOOP=asyncio``: the services spend their time in
    the event loop and its transports, which uvloop runs at a fraction of the cost."""
    if os.environ.get("NSED_EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_main(
    service: str,
    settings_type: type[SettingsT],
    main: Callable[[SettingsT, asyncio.Event], Awaitable[Any]],
) -> None:
    """Process entry point: settings, logging, signals → stop event, and one readable line
    on stderr with exit code 2 for bad configuration, whether it is found in the settings
    (read here, so no service can read them outside this guard) or later while starting."""
    try:
        settings = load_settings(settings_type, service)
        configure_logging(service, settings.log_level)
        collector.tune()

        async def _run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await main(settings, stop)

        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(_run())
    except ConfigError as exc:
        print(config_error_line(service, exc), file=sys.stderr)
        sys.exit(2)


def config_error_line(service: str, exc: ConfigError) -> str:
    """One voice for every error a person reads: ``nsed: …`` (the message names the
    service or the agent it concerns)."""
    return f"nsed: {exc}"
