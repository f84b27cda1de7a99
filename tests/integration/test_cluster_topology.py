"""The topology on a three-node NATS cluster: every stream and bucket with 3 replicas, made
only once the cluster can place them, and scaled up (never down) when made earlier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from services._runtime.topology import ensure_topology
from services.stack import health
from services.stack.natsserver import NatsCluster
from tests.support import nsed
from tests.support.wait import until

STREAMS = {
    "NSED_TASKS", "NSED_WORK", "NSED_EVENTS", "NSED_RESULTS", "NSED_DLQ", "NSED_TIMERS",
    "KV_nsed_agents", "KV_nsed_deliberations", "KV_nsed_references", "KV_nsed_telemetry",
}  # fmt: skip
# Buckets whose reads decide what a handler does: read from the leader with three copies.
LEADER_READ = {"KV_nsed_deliberations", "KV_nsed_references"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "cluster")
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
async def cluster_nc(cluster: NatsCluster) -> AsyncIterator[Client]:
    first, second, _ = cluster.servers.values()
    first.start()
    second.start()
    client = await nsed.connect(cluster.url)
    try:
        yield client
    finally:
        await client.close()


async def _replicas(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """Each stream's configured replicas and the peers that hold it."""
    return {
        info.config.name or "": (
            info.config.num_replicas or 1,
            1 + len(info.cluster.replicas or []),
        )
        for info in await js.streams_info()
        if info.cluster is not None
    }


async def _direct_gets(js: JetStreamContext) -> set[str]:
    """The streams any replica answers reads of (a follower may lag the leader)."""
    return {i.config.name or "" for i in await js.streams_info() if i.config.allow_direct}


async def _until_replicated(js: JetStreamContext, replicas: int) -> None:
    """Every stream configured with ``replicas`` and held by as many peers (a stream scaled
    up lists its new peers once they have joined its group)."""
    expected = dict.fromkeys(STREAMS, (replicas, replicas))
    await until(lambda: _replicas_are(js, expected), timeout=20, what=f"{replicas} replicas")


async def _replicas_are(js: JetStreamContext, expected: dict[str, tuple[int, int]]) -> bool:
    return await _replicas(js) == expected


@pytest.mark.timeout(90)
async def test_every_stream_and_bucket_waits_for_three_nodes_and_gets_three_replicas(
    cluster: NatsCluster, cluster_nc: Client
) -> None:
    js = cluster_nc.jetstream(timeout=2.0)
    assert await health.jetstream_ready(cluster_nc, time.monotonic() + 30)
    errors_before = (await js.account_info()).api.errors
    creating = asyncio.create_task(ensure_topology(cluster_nc.jetstream(), replicas=3))

    # Two of three nodes elect a meta leader, but cannot place a stream of three replicas:
    # the first attempt is refused ("no suitable peers") before the third node starts.
    async def refused() -> bool:
        return (await js.account_info()).api.errors > errors_before

    await until(refused, timeout=20, what="a refused stream creation")
    assert not creating.done()
    cluster.servers["nats-3"].start()
    await asyncio.wait_for(creating, timeout=45)

    await _until_replicated(js, 3)
    assert await _direct_gets(js) == STREAMS - LEADER_READ


@pytest.mark.timeout(90)
async def test_streams_made_with_one_replica_are_scaled_up_and_never_down(
    cluster: NatsCluster, cluster_nc: Client
) -> None:
    cluster.servers["nats-3"].start()
    await ensure_topology(cluster_nc.jetstream(), replicas=1)
    js = cluster_nc.jetstream(timeout=5.0)
    await _until_replicated(js, 1)
    assert await _direct_gets(js) == STREAMS

    await ensure_topology(cluster_nc.jetstream(), replicas=3)
    await _until_replicated(js, 3)
    # The records decide what handlers do: with three copies they are read from the leader.
    assert await _direct_gets(js) == STREAMS - LEADER_READ
    await ensure_topology(cluster_nc.jetstream(), replicas=1)  # a process without the setting
    assert {config for config, _ in (await _replicas(js)).values()} == {3}
