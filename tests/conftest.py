"""Fixtures shared by every tier: a real nats-server per test (integration and e2e)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from nats.aio.client import Client

from services._runtime.logging import configure_logging
from tests.support import nsed
from tests.support.natsserver import NatsServer

configure_logging("tests", "warning", json=True)

# No per-example time limit: the suite runs on two workers beside whole stacks of processes
# on shared cores, where an example's wall time says nothing about the property it checks
# (speed is measured by `nsed bench`, not by tests).
settings.register_profile("nsed", deadline=None)
settings.load_profile("nsed")


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
