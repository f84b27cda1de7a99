"""``make up``'s wait for NATS: quiet while NATS starts (one line, no traceback per refused
attempt), and one readable reason if it never comes."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from services.stack import health
from services.stack.natsserver import NatsProcess, free_port


async def test_the_wait_for_a_starting_nats_is_one_call_and_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    waiting = asyncio.Event()
    calls: list[None] = []

    def on_wait() -> None:
        calls.append(None)
        waiting.set()

    url = f"nats://127.0.0.1:{port}"
    connecting = asyncio.create_task(health.connect_retrying(url, time.monotonic() + 30, on_wait))
    await asyncio.wait_for(waiting.wait(), timeout=10)  # refused: NATS is not there yet
    server = await asyncio.to_thread(NatsProcess(tmp_path / "nats", port=port).start)
    try:
        nc = await asyncio.wait_for(connecting, timeout=20)
        await nc.close()
    finally:
        server.stop()
    assert calls == [None]
    assert [r for r in caplog.records if r.name.startswith("nats")] == []


async def test_a_nats_that_never_comes_is_one_reason_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"nats://127.0.0.1:{free_port()}"
    missing = await health.wait_healthy(url, ["alpha"], timeout=1.5)
    assert missing == [f"NATS at {url} did not come up (nothing answers there)"]
    assert [r for r in caplog.records if r.name.startswith("nats")] == []
