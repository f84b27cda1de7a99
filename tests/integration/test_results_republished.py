"""Results reach plain subscribers only once the results stream has stored them: it keeps
them on ``nsed.concluded.<id>`` and republishes each one it stores, once, on
``nsed.results.<id>``. A publish the stream does not store (its leader died with it, on a
cluster) never reaches a subscriber, so its retry cannot reach one twice."""

from __future__ import annotations

import msgspec
import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig
from nats.js.errors import APIError

from schemas import subjects
from services._runtime.bus import Bus, ensure_topology
from services.cli import client
from tests.support import nsed
from tests.support.messages import concluded


async def test_a_result_the_stream_refused_never_reaches_a_subscriber(nc: Client) -> None:
    await ensure_topology(nc.jetstream())
    inbox = await nsed.ResultInbox.open(nc)
    result = concluded("refused-1")
    payload = msgspec.json.encode(result)
    # The stream refuses this one (as it loses one whose leader dies before storing it).
    with pytest.raises(APIError):
        await Bus(nc, "gate").publish_raw(
            subjects.subject_for(result), payload, headers={"Nats-Expected-Last-Sequence": "999"}
        )
    await Bus(nc, "gate").publish(result)  # the retry
    await Bus(nc, "gate").publish(result)  # and a re-run
    await inbox.settle()
    assert inbox.count("refused-1") == 1
    assert await client.stored_result(nc, "refused-1") == result


async def test_a_results_stream_made_before_republishing_is_moved_and_keeps_old_results(
    nc: Client,
) -> None:
    js = nc.jetstream()
    old_stream = StreamConfig(
        name=subjects.NSED_RESULTS, subjects=["nsed.results.>"], allow_direct=True
    )
    await js.add_stream(old_stream)
    old = concluded("old-1")
    await js.publish(subjects.results("old-1"), msgspec.json.encode(old))

    await ensure_topology(js)
    config = (await js.stream_info(subjects.NSED_RESULTS)).config
    assert config.subjects == ["nsed.concluded.>"]
    assert config.republish is not None
    assert (config.republish.src, config.republish.dest) == ("nsed.concluded.>", "nsed.results.>")
    assert await client.stored_result(nc, "old-1") == old
    inbox = await nsed.ResultInbox.open(nc)
    await Bus(nc, "gate").publish(concluded("new-1"))
    await inbox.settle()
    assert inbox.count("new-1") == 1
