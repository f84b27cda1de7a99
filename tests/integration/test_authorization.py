"""The stack's authorization on a real server: what the anonymous client, an agent and the
services can and cannot do (issue 16's acceptance), with the stack's own key files.

A refused publish is read from the server's refusal; a refused read, in addition, from
the reader never getting what an admin wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import msgspec
import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError, KeyNotFoundError

from schemas import subjects
from schemas.timers import PhaseDue
from services._runtime.bus import Bus
from services._runtime.consumer import DurableConsumer
from services._runtime.credentials import ADMIN, ANONYMOUS, agent_principal
from services._runtime.pull import Puller
from services._runtime.topology import ensure_topology
from services.core.timers import phase_due
from services.stack import permissions
from services.stack.permissions import Agent
from tests.support.authorized import Principal, authorized_server
from tests.support.gateway import sdk, start_gateway
from tests.support.inprocess import POOL, InProcessServices
from tests.support.natsserver import NatsServer
from tests.support.wait import until

AGENTS = (Agent("alpha", simulated=True), Agent("bravo", simulated=False))
Server = tuple[NatsServer, Path]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running, home = authorized_server(tmp_path_factory.mktemp("authz"), AGENTS)
    try:
        yield running, home
    finally:
        running.stop()


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[Principal]:
    me = await Principal.connect(server[0].url, server[1], ADMIN)
    js = me.nc.jetstream(timeout=5)
    await ensure_topology(js, timeout=10)
    # The simulated agents' references, whoever makes them.
    with_references = KeyValueConfig(bucket=subjects.REFERENCES_BUCKET, history=1)
    with contextlib.suppress(BadRequestError):  # made by an earlier test
        await js.create_key_value(with_references)
    try:
        yield me
    finally:
        await me.close()


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[object]:
    opened: list[Principal] = []

    async def as_(principal: str) -> Principal:
        opened.append(await Principal.connect(server[0].url, server[1], principal))
        return opened[-1]

    yield as_
    for principal in opened:
        await principal.close()


async def test_an_anonymous_client_submits_plain_json_and_hears_events_and_result(
    admin: Principal, connect
) -> None:
    client: Principal = await connect(ANONYMOUS)
    heard: list[str] = []

    async def on_msg(msg: nats.aio.msg.Msg) -> None:
        heard.append(msg.subject)

    await client.nc.subscribe(subjects.results("t-anon"), cb=on_msg)
    await client.nc.subscribe(subjects.task_events("t-anon"), cb=on_msg)
    await client.nc.flush()
    ack = await client.nc.jetstream().publish(subjects.TASKS, b'{"task_id": "t-anon"}')
    stored = await admin.nc.jetstream().get_msg(subjects.NSED_TASKS, ack.seq)
    assert stored.data == b'{"task_id": "t-anon"}'
    await admin.nc.jetstream().publish(subjects.EVENT_TEAM.format(task_id="t-anon"), b"{}")
    await admin.nc.jetstream().publish(subjects.concluded("t-anon"), b"{}")
    await until(lambda: len(heard) == 2, what="the event and the republished result")
    assert sorted(heard) == ["nsed.events.t-anon.team", "nsed.results.t-anon"]
    assert client.errors == []


async def test_an_anonymous_client_reads_no_record_and_writes_no_card(
    admin: Principal, connect
) -> None:
    records = await admin.nc.jetstream().key_value(subjects.DELIBERATIONS_BUCKET)
    client: Principal = await connect(ANONYMOUS)
    for subject in (subjects.kv_subject(subjects.DELIBERATIONS_BUCKET, ">"), "_INBOX_broker.>"):
        assert await client.subscribe_refused(subject)
    await records.put("t-secret", b'{"reference_answer": "42"}')
    stream = f"KV_{subjects.DELIBERATIONS_BUCKET}"
    key = subjects.kv_subject(subjects.DELIBERATIONS_BUCKET, "t-secret")
    reads = (f"$JS.API.DIRECT.GET.{stream}.{key}", f"$JS.API.STREAM.MSG.GET.{stream}",
             f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.STREAM.INFO.{stream}")  # fmt: skip
    for request in reads:
        assert await client.publish_refused(request)
    card = subjects.kv_subject(subjects.AGENTS_BUCKET, "alpha.forged")
    assert await client.publish_refused(card, b'{"agent_id": "alpha"}')
    cards = await admin.nc.jetstream().key_value(subjects.AGENTS_BUCKET)
    with pytest.raises(KeyNotFoundError):
        await cards.get("alpha.forged")


async def test_an_agent_pulls_its_own_work_and_writes_its_own_card(
    admin: Principal, connect
) -> None:
    alpha: Principal = await connect(agent_principal("alpha"))
    [route] = permissions.agent_routes("alpha")
    consumer = DurableConsumer(alpha.nc.jetstream(timeout=5), route, ack_wait_s=5, max_deliver=3)
    await consumer.create()
    received: asyncio.Queue[Msg] = asyncio.Queue()
    puller = Puller(alpha.nc, consumer, 1, received.put)  # the services' own pull loop
    await puller.subscribe()
    stop = asyncio.Event()
    pulling = asyncio.create_task(puller.run(stop))
    try:
        await admin.nc.jetstream().publish(
            subjects.agent_work("alpha").replace(">", "propose"), b"1"
        )
        work = await asyncio.wait_for(received.get(), timeout=5)
        await work.ack()
    finally:
        stop.set()
        await pulling
        await puller.unsubscribe()
    assert work.data == b"1"
    await alpha.nc.jetstream().publish(
        subjects.kv_subject(subjects.AGENTS_BUCKET, "alpha.i1"), b"c"
    )
    cards = await admin.nc.jetstream().key_value(subjects.AGENTS_BUCKET)
    assert (await cards.get("alpha.i1")).value == b"c"
    assert alpha.errors == []


async def test_an_agent_reads_no_record_and_no_other_agents_work(admin: Principal, connect) -> None:
    alpha: Principal = await connect(agent_principal("alpha"))
    stream = f"KV_{subjects.DELIBERATIONS_BUCKET}"
    key = subjects.kv_subject(subjects.DELIBERATIONS_BUCKET, "t-secret")
    [bravo] = permissions.agent_routes("bravo")
    for request in (f"$JS.API.DIRECT.GET.{stream}.{key}", f"$JS.API.STREAM.MSG.GET.{stream}",
                    f"$JS.API.CONSUMER.CREATE.{stream}",
                    f"$JS.API.CONSUMER.MSG.NEXT.{bravo.stream}.{bravo.name}",
                    f"$JS.API.CONSUMER.CREATE.{bravo.stream}.{bravo.name}.{bravo.subject}",
                    subjects.kv_subject(subjects.AGENTS_BUCKET, "bravo.forged")):  # fmt: skip
        assert await alpha.publish_refused(request)
    # Its own consumer's subject, with another agent's filter in the request: the server
    # holds the subject's filter to the request's.
    [own] = permissions.agent_routes("alpha")
    widened = {"stream_name": own.stream, "config": {"name": own.name, "durable_name": own.name,
               "filter_subject": bravo.subject, "ack_policy": "explicit"}}  # fmt: skip
    reply = await alpha.nc.request(
        f"$JS.API.CONSUMER.CREATE.{own.stream}.{own.name}.{own.subject}",
        msgspec.json.encode(widened),
        timeout=5,
    )
    assert "error" in msgspec.json.decode(reply.data)


async def test_only_a_simulated_agent_reads_the_references(admin: Principal, connect) -> None:
    references = await admin.nc.jetstream().key_value(subjects.REFERENCES_BUCKET)
    await references.put("t-ref", b"42")
    alpha: Principal = await connect(agent_principal("alpha"))  # simulated
    bucket = await alpha.nc.jetstream(timeout=5).key_value(subjects.REFERENCES_BUCKET)
    assert (await bucket.get("t-ref")).value == b"42"
    bravo: Principal = await connect(agent_principal("bravo"))
    stream = f"KV_{subjects.REFERENCES_BUCKET}"
    key = subjects.kv_subject(subjects.REFERENCES_BUCKET, "t-ref")
    assert await bravo.publish_refused(f"$JS.API.DIRECT.GET.{stream}.{key}")


@pytest.mark.timeout(120)
async def test_a_deliberation_runs_under_authorization_for_a_bare_client(
    tmp_path: Path,
) -> None:
    """Every service, agent and the gateway with its own key, the client anonymous: the
    table lets the whole round through, and the bare-client contract holds."""
    from services.agent_runner.config import load_pool

    agents = [Agent(a.id, simulated=a.backend == "sim") for a in load_pool(POOL).agents]
    server, home = authorized_server(tmp_path, agents)
    inproc = InProcessServices(url=server.url, home=str(home))
    client = await Principal.connect(server.url, home, ANONYMOUS)
    try:
        inproc.start_all(tuple(a.agent_id for a in agents[:3]))
        results = await client.nc.subscribe(subjects.results("t-bare"))
        await client.nc.flush()
        task = b'{"task_id": "t-bare", "prompt": "What is 6*7?", "answer_format": "integer"}'

        async def submitted() -> bool:
            with_live_pool = await _admin_sees_agents(server.url, home, 3)
            if with_live_pool:
                await client.nc.publish(subjects.TASKS, task)
            return with_live_pool

        await until(submitted, timeout=30, every=0.2, what="three live agents")
        result = msgspec.json.decode((await results.next_msg(timeout=60)).data)
        assert result["task_id"] == "t-bare"
        assert result["status"] in ("completed", "degraded")
        assert client.errors == []
        # The gateway with its own key: a chat, and the web view's replay of the task.
        url = await start_gateway(inproc, tuple(a.agent_id for a in agents[:3]))
        async with sdk(url) as openai_client:
            reply = await openai_client.chat.completions.create(
                model="nsed",
                messages=[{"role": "user", "content": "What is 6*7?"}],
                extra_body={"nsed": {"reference_answer": "42", "answer_format": "integer"}},
            )
        assert reply.choices[0].message.content
        site = url.removesuffix("/v1")
        async with aiohttp.ClientSession() as http:
            for page in ("/", "/deliberations/t-bare"):
                async with http.get(site + page) as response:
                    assert response.status == 200, page
                    assert "t-bare" in await response.text(), page
        assert inproc.failures() == []
    finally:
        await client.close()
        await inproc.close()
        server.stop()


async def _admin_sees_agents(url: str, home: Path, count: int) -> bool:
    from services.stack import health

    admin = await Principal.connect(url, home, ADMIN)
    try:
        return len(await asyncio.wait_for(health.live_agent_ids(admin.nc), 5)) >= count
    except (TimeoutError, nats.errors.Error):
        return False
    finally:
        await admin.close()


@pytest.mark.parametrize("service", ["broker", "reviewer"])
async def test_a_service_that_arms_timers_reads_the_one_waiting_and_replaces_it(
    admin: Principal, connect, service: str
) -> None:
    # A replica arming the round after another's reads the timer waiting first
    # (``arming.Arming``): without that read granted, it could not replace it.
    me: Principal = await connect(service)
    task_id = f"t-arms-{service}"
    for round_number in (1, 2):  # each round by a replica of its own
        bus = Bus(me.nc, service)
        await bus.publish(phase_due(task_id, round_number, "proposing", "reviewer", 4e9))
    waiting = await admin.nc.jetstream().get_last_msg(
        subjects.NSED_TIMERS, subjects.TIMER_SCHEDULES.format(task_id=task_id, phase="proposing")
    )
    assert msgspec.json.decode(waiting.data, type=PhaseDue).round == 2
    assert me.errors == []
