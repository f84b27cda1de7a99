"""Composition root of one agent runner: pool file + agent id → a running runner."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import structlog

from schemas import subjects
from services._runtime import credentials
from services._runtime.errors import ConfigError
from services._runtime.lifecycle import Plan, open_runtime, serve
from services._runtime.logging import log_to_file
from services._runtime.references import KvReferenceStore
from services.agent_runner.backends.base import AgentBackend
from services.agent_runner.backends.openai import OpenAIBackend
from services.agent_runner.backends.sim import SimBackend, TruthSource
from services.agent_runner.backends.traced import TracedBackend
from services.agent_runner.config import AgentProfile, load_pool
from services.agent_runner.handlers import RunnerDeps
from services.agent_runner.health import CheckedBackend, Health, HealthMonitor
from services.agent_runner.heartbeat import Heartbeat
from services.agent_runner.latency import Latency
from services.agent_runner.lookups import ended_reader, reference_reader
from services.agent_runner.probe import probe
from services.agent_runner.routes import routes
from services.agent_runner.runfile import RunnerEntry, registered
from services.agent_runner.settings import AgentRunnerSettings


async def no_truth(task_id: str) -> str | None:
    """A model-backed runner's oracle: none (only the simulation needs the truth)."""
    return None


def served_profile(profile: AgentProfile, model_url: str) -> AgentProfile:
    """An agent on a local model, pointed at the server the stack started for it."""
    if profile.local is None:
        return profile
    if not model_url:
        raise ConfigError(
            f"agent {profile.id} runs on the local model {profile.local.name}, which "
            "`nsed stack up` serves: start the pool with `make up POOL=...`, or set "
            "NSED_AGENT_RUNNER_MODEL_URL to its server's /v1 URL"
        )
    return profile.served_at(model_url)


def make_backend(
    profile: AgentProfile,
    settings: AgentRunnerSettings,
    truth: TruthSource,
    session: aiohttp.ClientSession,
) -> AgentBackend:
    if profile.backend == "sim":
        return SimBackend(profile, truth, latency_scale=settings.latency_scale)
    if profile.backend == "openai":
        return OpenAIBackend(profile, session, slots_folder=Path(settings.home) / "slots")
    raise ConfigError(f"agent {profile.id}: unknown backend {profile.backend!r}")


@contextlib.contextmanager
def own_files(
    settings: AgentRunnerSettings, profile: AgentProfile, instance: str, pool_path: str
) -> Iterator[None]:
    """A runner process's entry under ``$NSED_HOME/runners`` (what the stack there lists
    and stops) and, when no supervisord keeps its log, its own log file."""
    home = Path(settings.home).resolve()
    supervised = bool(os.environ.get("SUPERVISOR_ENABLED"))  # supervisord sets it
    log = None
    if settings.log_file.lower() != "none" and not (supervised and settings.log_file == "auto"):
        log = (
            home / "logs" / f"agent-{profile.id}-{instance}.log"
            if settings.log_file == "auto"
            else Path(settings.log_file).resolve()
        )
        log_to_file(log)
    entry = RunnerEntry(
        pid=os.getpid(),
        agent_id=profile.id,
        instance_id=instance,
        nats_url=settings.nats_url,
        pool=str(Path(pool_path).resolve()),
        log=str(log or ""),
        supervised=supervised,
        started_at=time.time(),
    )
    try:
        with registered(home, entry):
            if log is not None:
                structlog.get_logger("agent_runner").info("log_file", path=str(log))
            yield
    finally:
        log_to_file(None)


async def serve_agent(
    settings: AgentRunnerSettings,
    stop: asyncio.Event,
    *,
    pool_path: str,
    agent_id: str | None,
    instance_id: str | None = None,
    standalone: bool = False,
) -> None:
    """Run one agent's runner until ``stop``. ``standalone``: the runner is a process of
    its own (not a test's task), which registers itself and may keep its own log."""
    profile = served_profile(load_pool(pool_path).agent(agent_id), settings.model_url)
    instance = instance_id or uuid.uuid4().hex[:12]
    with contextlib.ExitStack() as files:
        if standalone:
            files.enter_context(own_files(settings, profile, instance, pool_path))
        await _serve(settings, stop, profile, instance)


async def _serve(
    settings: AgentRunnerSettings, stop: asyncio.Event, profile: AgentProfile, instance: str
) -> None:
    async with (
        open_runtime(
            "agent_runner",
            settings,
            stop=stop,
            instance_id=instance,
            principal=credentials.agent_principal(profile.id),
            reads=(subjects.NSED_WORK, f"KV_{subjects.AGENTS_BUCKET}"),
        ) as rt,
        # One HTTP session per process, closed on every way out, cancellation included.
        aiohttp.ClientSession() as session,
    ):
        structlog.contextvars.bind_contextvars(agent_id=profile.id, instance=rt.instance_id)
        truth: TruthSource = no_truth
        if profile.backend == "sim":  # only a simulated runner may read the references
            references = KvReferenceStore(await rt.bus.kv(subjects.REFERENCES_BUCKET))
            truth = reference_reader(references, settings.truth_cache)
        model = make_backend(profile, settings, truth, session)
        latency = Latency(profile.latency_estimate())
        monitor = HealthMonitor(
            Health(unhealthy_after=settings.unhealthy_after),
            lambda: probe(model, profile, latency),
            first_s=settings.reprobe_first_s,
            max_s=settings.reprobe_max_s,
        )
        # A simulated backend cannot fail: it is not checked, and always healthy.
        checked = model if model.simulated else CheckedBackend(model, monitor)
        backend = TracedBackend(checked, profile, rt.tracer)
        if profile.openai is not None and profile.openai.probe:
            await monitor.check()  # before the card: the broker sees the outcome
        deps = RunnerDeps(
            profile=profile,
            instance_id=rt.instance_id,
            backend=backend,
            clock=time.time,
            latency=latency,
            ended=None if model.simulated else ended_reader(rt.bus.js),
        )
        heartbeat = Heartbeat(
            rt.bus,
            profile,
            rt.instance_id,
            deps.in_flight,
            every_s=settings.heartbeat_s,
            ttl_s=settings.heartbeat_ttl_s,
            latency=latency,
            health=monitor.state,
        )
        monitor.on_change = heartbeat.beat  # a change is published before the call returns

        async def after_drain() -> None:
            await heartbeat.remove()
            await backend.aclose()

        await heartbeat.beat()  # visible as soon as it can take work
        await serve(
            rt,
            Plan(
                routes=routes(deps),
                background=[heartbeat.run, monitor.recover]
                + ([model.inspect] if isinstance(model, OpenAIBackend) else []),
                after_drain=after_drain,
                metadata={"agent_id": profile.id, "model": profile.model},
            ),
        )
