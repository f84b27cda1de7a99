"""End-to-end tier: every service a separate process, against a real nats-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.natsserver import NatsServer
from tests.support.processes import ProcessStack

pytestmark = pytest.mark.e2e

POOL_AGENTS = ("alpha", "bravo", "charlie", "delta")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    running = NatsServer(tmp_path_factory.mktemp("e2e") / "nats").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def processes(
    server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    from tests.support.inprocess import POOL

    stack = ProcessStack(
        url=server.url,
        pool=POOL,
        logs=tmp_path_factory.mktemp("logs"),
        # ~0.3 s per model call: a 3-round task runs for a few seconds, long enough to
        # kill a service in the middle of it.
        env={"NSED_AGENT_RUNNER_LATENCY_SCALE": "6"},
    )
    stack.start_all(POOL_AGENTS)
    try:
        yield stack
    finally:
        stack.stop_all()
