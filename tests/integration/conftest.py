"""Integration tier: services in-process against a real nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client

from schemas.gate import DeliberationConcluded
from services._runtime.logging import configure_logging
from services.stack import health
from tests.support import nsed
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


async def logged_task(
    inproc: InProcessServices, nc: Client, capfd: pytest.CaptureFixture[str], prefix: str
) -> tuple[str, DeliberationConcluded, list[dict[str, Any]]]:
    """Every service and the three agents of the pool, one one-round task with the logs at
    info as JSON: its id, its result, and the JSON lines the services logged meanwhile."""
    configure_logging("tests", "info", json=True)
    try:
        inproc.start_all()
        await ready(nc, agents=("alpha", "bravo", "charlie"))
        task_id = nsed.new_task_id(prefix)
        await nsed.publish_task(nc, nsed.task(task_id, max_rounds=1), msg_id=task_id)
        result = await nsed.wait_result(nc, task_id)
    finally:
        configure_logging("tests", "warning", json=True)
    err = capfd.readouterr().err
    return task_id, result, [json.loads(x) for x in err.splitlines() if x.startswith("{")]
