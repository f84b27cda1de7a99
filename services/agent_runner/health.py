"""Whether this runner's backend works, as its card tells the broker.

    healthy ──the probe fails, or ``unhealthy_after`` calls in a row fail──▶ unhealthy
    unhealthy ──a probe (or a call) succeeds──▶ healthy

``Health`` is the state machine (pure). ``HealthMonitor`` owns one: ``CheckedBackend``
feeds it every call's outcome, and while it is unhealthy ``HealthMonitor.recover``
probes again in the background, waiting ``first_s``, then twice as long each time, at most
``max_s``. Each change is published at once (``on_change``: the heartbeat), before the
call that caused it returns, so the broker stops seating the agent before the next round
is selected. A simulated backend is never wrapped: it is always healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.agent_runner.backends.base import (
    AgentBackend,
    BackendError,
    ProposalDraft,
    ReviewDraft,
)

REASON_CHARS = 300  # what a card carries of the error; the runner's log has all of it

log = structlog.get_logger("agent_runner")


@dataclass
class Health:
    unhealthy_after: int  # consecutive failed calls that make the runner unhealthy
    healthy: bool = True
    reason: str = ""
    failures: int = 0  # failed calls since the last success

    def call_failed(self, error: str) -> bool:
        """A call failed; True if that made the runner unhealthy."""
        self.failures += 1
        if not self.healthy or self.failures < self.unhealthy_after:
            return False
        calls = "a call" if self.failures == 1 else f"{self.failures} calls in a row"
        return self._unhealthy(f"{calls} failed: {error}")

    def probe_failed(self, error: str) -> bool:
        """The probe failed; True if that made the runner unhealthy (or changed why)."""
        return self._unhealthy(f"probe failed: {error}")

    def succeeded(self) -> bool:
        """A probe or a call succeeded; True if the runner was unhealthy until now."""
        was = self.healthy
        self.healthy, self.reason, self.failures = True, "", 0
        return not was

    def _unhealthy(self, reason: str) -> bool:
        reason = reason[:REASON_CHARS]
        changed = self.healthy or reason != self.reason
        self.healthy, self.reason = False, reason
        return changed


Probe = Callable[[], Awaitable[str | None]]  # the failure's reason, None on success


class HealthMonitor:
    def __init__(
        self,
        health: Health,
        probe: Probe,
        *,
        first_s: float,
        max_s: float,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.health = health
        self.probe = probe
        self.first_s = first_s
        self.max_s = max_s
        self.on_change = on_change
        self._unhealthy = asyncio.Event()

    def state(self) -> tuple[bool, str]:
        return self.health.healthy, self.health.reason

    async def check(self) -> bool:
        """Probe once; returns whether the backend answered."""
        error = await self.probe()
        await self._apply(
            self.health.succeeded() if error is None else self.health.probe_failed(error)
        )
        return error is None

    async def call_failed(self, error: str) -> None:
        await self._apply(self.health.call_failed(error))

    async def call_succeeded(self) -> None:
        await self._apply(self.health.succeeded())

    async def _apply(self, changed: bool) -> None:
        if self.health.healthy:
            self._unhealthy.clear()
        else:
            self._unhealthy.set()
        if not changed:
            return
        if self.health.healthy:
            log.info("healthy_again")
        else:
            log.warning("unhealthy", reason=self.health.reason)
        if self.on_change is not None:
            with contextlib.suppress(Exception):  # NATS away: the next heartbeat says it
                await self.on_change()

    async def recover(self, stop: asyncio.Event) -> None:
        """Background: while unhealthy, probe with a bounded exponential backoff."""
        while not stop.is_set():
            if not await _wait(self._unhealthy, stop, None):
                return
            delay = self.first_s
            while not self.health.healthy and not stop.is_set():
                if await _wait(stop, None, delay):
                    return
                if not self.health.healthy:  # a call may have succeeded meanwhile
                    await self.check()
                delay = min(delay * 2, self.max_s)


async def _wait(event: asyncio.Event, stop: asyncio.Event | None, timeout: float | None) -> bool:
    """Wait for ``event`` (or ``stop``) at most ``timeout``; True if ``event`` is set."""
    waits = [asyncio.ensure_future(event.wait())]
    if stop is not None:
        waits.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return event.is_set() and (stop is None or not stop.is_set())


class CheckedBackend:
    """Every call's outcome goes to the monitor; the call itself is unchanged."""

    def __init__(self, inner: AgentBackend, monitor: HealthMonitor) -> None:
        self.inner = inner
        self.monitor = monitor
        self.simulated = inner.simulated

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        try:
            draft = await self.inner.propose(request)
        except BackendError as exc:
            await self.monitor.call_failed(str(exc))
            raise
        await self.monitor.call_succeeded()
        return draft

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        try:
            draft = await self.inner.review(request)
        except BackendError as exc:
            await self.monitor.call_failed(str(exc))
            raise
        await self.monitor.call_succeeded()
        return draft

    async def aclose(self) -> None:
        await self.inner.aclose()
