"""Background loops while NATS is away: the gate's stats keep what they could not write
and write it once NATS is back; a runner's heartbeat keeps beating; each says so in one
line when it starts failing and one when it recovers, not one per try."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from services._runtime.errors import Retryable
from services.agent_runner import heartbeat as heartbeat_mod
from services.agent_runner.config import load_pool
from services.agent_runner.handlers import Gauge
from services.agent_runner.heartbeat import Heartbeat
from services.gate import stats as stats_mod
from services.gate.stats import InMemoryStatsStore, Observation, StatsBuffer, key

POOL = load_pool(Path(__file__).resolve().parents[2] / "data" / "pool.toml")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    cap = LogCapture()
    logger = structlog.wrap_logger(
        None, processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    monkeypatch.setattr(heartbeat_mod, "log", logger)
    monkeypatch.setattr(stats_mod.structlog, "get_logger", lambda *_: logger)
    return cap.entries


class AwayFor(InMemoryStatsStore):
    """A stats store whose first ``failures`` writes find NATS away."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def apply(self, domain: str, agent_id: str, update: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise Retryable("record read: TimeoutError")
        await super().apply(domain, agent_id, update)


async def test_telemetry_nats_did_not_store_is_written_at_the_next_flush(
    captured: list[dict[str, Any]],
) -> None:
    store = AwayFor(failures=3)
    buffer = StatsBuffer(store)
    buffer.add("math", [Observation(agent_id="alpha", seated=1, ok=1, wins=1)], now=1.0)
    for _ in range(3):
        await buffer.flush()  # NATS away: nothing written, nothing dropped
        assert store.values == {}
    buffer.add("math", [Observation(agent_id="alpha", seated=1)], now=2.0)
    await buffer.flush()

    stored = store.values[key("math", "alpha")]
    assert (stored.rounds, stored.wins, stored.updated_at) == (2, 1, 2.0)  # the older one too
    assert [(e["log_level"], e["event"]) for e in captured] == [
        ("warning", "telemetry_failed"),
        ("info", "recovered"),
    ]


class AwayBus:
    """A bus whose first ``beats_away`` publishes time out; it stops the heartbeat a few
    good beats later."""

    def __init__(self, beats_away: int, stop: asyncio.Event) -> None:
        self.beats_away = beats_away
        self.beats = 0
        self.stop = stop

    async def publish_raw(self, subject: str, payload: bytes, **_: Any) -> None:
        self.beats += 1
        if self.beats > self.beats_away + 2:
            self.stop.set()  # enough: a few good beats after the outage
        if self.beats <= self.beats_away:
            raise TimeoutError()


async def test_a_heartbeat_keeps_beating_through_an_outage_and_says_so_twice(
    captured: list[dict[str, Any]],
) -> None:
    stop = asyncio.Event()
    bus = AwayBus(beats_away=20, stop=stop)
    beat = Heartbeat(bus, POOL.agent("alpha"), "i-1", Gauge(), every_s=0.001, ttl_s=1.0)  # type: ignore[arg-type]
    await asyncio.wait_for(beat.run(stop), timeout=10)

    assert bus.beats >= 23  # every try made, through the outage and after it
    assert [(e["log_level"], e["event"]) for e in captured] == [
        ("warning", "heartbeat_failed"),
        ("info", "recovered"),
    ]
    assert captured[1]["failures"] == 20
