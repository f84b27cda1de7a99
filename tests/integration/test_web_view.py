"""The gateway's web view over a real NATS and the services in-process: a finished
deliberation served whole, a running one followed live over server-sent events."""

from __future__ import annotations

import re

import aiohttp
from nats.aio.client import Client

from services.cli.inspect import task_record
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.htmltables import cells
from tests.support.inprocess import InProcessServices
from tests.support.wait import until
from tests.support.webview import gateway, read_sse

AGENTS = ("alpha", "bravo", "charlie")


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


def seat_of(cell: str) -> int:
    found = re.search(r"seat (\d+)", cell)
    assert found is not None, cell
    return int(found.group(1))


async def test_a_finished_deliberation_is_served_whole_with_the_labels_reviewers_saw(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    task_id = nsed.new_task_id("web")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=2, min_rounds=2), msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    record = await task_record(nc, task_id)
    assert record is not None
    async with gateway(inproc) as url:
        status, page = await get(f"{url}/deliberations/{task_id}")
    assert status == 200
    assert "<script" not in page  # readable as it is, with no JavaScript
    assert 'id="round-1"' in page
    assert 'id="round-2"' in page
    assert f'<span class="big">{result.extracted_answer}</span>' in page
    # The last round's packets are still in the record: the labels shown are the ones
    # the reviewer service sent each reviewer.
    rows = cells(page, "votes-2")
    columns = [seat_of(h) for h in rows[0][1:]]
    packets = record.current.packets
    assert packets
    shown = 0
    for row in rows[1:]:
        if not row[0].startswith(tuple(AGENTS)):
            continue  # the score row
        reviewer = seat_of(row[0])
        for label, proposal_id in packets.get(reviewer, {}).items():
            seat = int(proposal_id.rsplit(":", 1)[1])
            assert row[1 + columns.index(seat)].startswith(label)
            shown += 1
    assert shown == sum(len(p) for p in packets.values())


async def test_the_index_lists_the_deliberation_and_the_live_pool(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    task_id = nsed.new_task_id("web")
    await nsed.publish_task(nc, nsed.task(task_id), msg_id=task_id)
    await nsed.wait_result(nc, task_id)
    async with gateway(inproc) as url:

        async def listed() -> str | None:
            _, page = await get(f"{url}/")
            recent = [row[0] for row in cells(page, "recent-list")[1:]]
            return page if task_id in recent else None

        page = await until(listed, timeout=15.0, what=f"{task_id} in the index")
        missing_status, _ = await get(f"{url}/deliberations/no-such-task")
        bad_status, _ = await get(f"{url}/deliberations/not%20a%20token")
        css_status, _ = await get(f"{url}/static/view.css")
    assert {row[0] for row in cells(page, "pool-list")[1:]} == set(AGENTS)
    assert (missing_status, bad_status, css_status) == (404, 404, 200)


async def test_a_running_deliberation_is_followed_live_until_its_result(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    # Without a gate the first round's tally waits: the deliberation is running for as
    # long as the test needs it to be.
    await inproc.stop("gate")
    task_id = nsed.new_task_id("web")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=2, min_rounds=2), msg_id=task_id)
    await until(lambda: task_record(nc, task_id), timeout=15.0, what="the task's record")
    async with (
        gateway(inproc) as url,
        aiohttp.ClientSession() as http,
        http.get(f"{url}/deliberations/{task_id}/events") as response,
    ):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        before = await read_sse(response, until_event="body")
        while before and "A = " not in before[-1].data:  # until the first round's tally
            more = await read_sse(response, until_event="body")
            assert more, "the live stream ended while the deliberation ran"
            before += more
        inproc.start_service("gate")
        after = await read_sse(response)
    assert all("<b>running</b>" in e.data for e in before)
    assert 'id="round-2"' not in before[-1].data
    bodies = [e for e in after if e.event == "body"]
    assert after[-1].event == "end"
    result = await nsed.wait_result(nc, task_id)
    last = bodies[-1].data
    assert f"<b>{result.status}</b>" in last
    assert 'id="round-2"' in last
    assert f'<span class="big">{result.extracted_answer}</span>' in last


async def test_a_gateway_that_stops_ends_its_live_streams_at_once(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    await inproc.stop("gate")  # the deliberation stays running: its stream stays open
    task_id = nsed.new_task_id("web")
    await nsed.publish_task(nc, nsed.task(task_id), msg_id=task_id)
    await until(lambda: task_record(nc, task_id), timeout=15.0, what="the task's record")
    # A grace far longer than the stop may take: only a stream that ends when shutdown
    # begins lets the gateway stop in time.
    async with (
        gateway(inproc, shutdown_grace_s=60.0) as url,
        aiohttp.ClientSession() as http,
        http.get(f"{url}/deliberations/{task_id}/events") as response,
    ):
        first = await read_sse(response, until_event="body")
        assert "<b>running</b>" in first[-1].data
        await inproc.stop("gateway", timeout=10.0)
        rest = await read_sse(response)
    assert all(e.event == "body" for e in rest)  # it closed without claiming an end
