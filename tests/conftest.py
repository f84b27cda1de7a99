"""Fixtures shared by every tier: a real nats-server per test (integration and e2e)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from services._runtime.logging import configure_logging
from tests.support import nsed
from tests.support.natsserver import NatsServer

configure_logging("tests", "warning", json=True)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nsed.connect(nats_server.url)
    try:
        yield client
    finally:
        await client.close()
