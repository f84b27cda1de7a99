"""A NATS server that comes back without its store (a wiped disk, a fresh node): the
services find their consumers gone, make the streams, buckets and consumers again, the
broker watches the agents' bucket again, and new tasks are answered, with one warning per
route and no error."""

from __future__ import annotations

import json
import shutil

import pytest
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from schemas import subjects
from services._runtime.retry import TRANSIENT
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer, kill9, restart
from tests.support.wait import until

AGENTS = ("alpha", "bravo", "charlie")


async def _has_stream(nc: Client, name: str) -> bool:
    try:
        await nc.jetstream(timeout=1.0).stream_info(name)
    except (NotFoundError, *TRANSIENT):  # not yet, or this client not reconnected yet
        return False
    return True


async def test_services_make_their_streams_and_consumers_again_for_a_server_without_its_store(
    inproc: InProcessServices,
    nc: Client,
    nats_server: NatsServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inproc.start_all(agents=AGENTS)
    await ready(nc, agents=AGENTS)
    before = nsed.new_task_id("wiped")
    await nsed.publish_task(nc, nsed.task(before, max_rounds=2), msg_id=before)
    await nsed.wait_result(nc, before, timeout=60)

    kill9(nats_server)
    shutil.rmtree(nats_server.store)
    restart(nats_server)

    await until(lambda: _has_stream(nc, subjects.NSED_TASKS), timeout=30,
                what="a service to make the streams again")  # fmt: skip
    await ready(nc, agents=AGENTS, timeout=30)  # cards in a new bucket, seen by a new watch
    inbox = await nsed.ResultInbox.open(nc)
    after = nsed.new_task_id("wiped")
    await nsed.publish_task(nc, nsed.task(after, max_rounds=2, min_rounds=2), msg_id=after)
    result = await inbox.result(after, timeout=60)

    assert result.status == "completed", result.detail
    assert result.rounds == 2
    assert inproc.failures() == []
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e for e in lines if e["level"] not in ("warning", "info")] == []
    fetch_failed = [e["route"] for e in lines if e["event"] == "fetch_failed"]
    assert fetch_failed, "the services should have found their consumers gone"
    assert len(fetch_failed) == len(set(fetch_failed)), "one line per route and outage"
