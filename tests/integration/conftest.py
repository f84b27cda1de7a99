"""Integration tier: services in-process against a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from services.stack import health
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer
from tests.support.wait import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def inproc(nats_server: NatsServer, tmp_path) -> AsyncIterator[InProcessServices]:
    running = InProcessServices(url=nats_server.url, home=str(tmp_path / "home"))
    try:
        yield running
    finally:
        await running.close()


async def ready(
    nc: Client,
    services: tuple[str, ...] = ("broker", "reviewer", "voter", "gate"),
    agents: tuple[str, ...] = (),
    timeout: float = 20.0,
) -> None:
    async def check() -> bool:
        found = await health.discover(nc, wait=0.1)
        live = await health.live_agent_ids(nc)
        return all(found.get(s) for s in services) and set(agents) <= live

    await until(check, timeout=timeout, what=f"services {services} and agents {agents}")
