"""An agent runner needs no deliberation record: with the record bucket gone, a simulated
runner still finds its task's truth in ``nsed_references``, and a model-backed runner still
skips work of a task whose result the results stream holds, without paying for the call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError

from schemas import subjects
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.task import TaskView
from services.core import ids
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.fakeopenai import FakeOpenAI
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer
from tests.support.wait import until

POOL = """
[[agents]]
id = "oracle"
model = "oracle-1b"
family = "o"
max_concurrency = 4
[agents.sim]
p_g = 1.0
latency_median_s = 0.01
seed = 1

[[agents]]
id = "paid"
model = "m-paid"
family = "p"
backend = "openai"
max_concurrency = 4
latency_s = 0.1
latency_p95_s = 0.5
[agents.openai]
base_url = "{base_url}"
model = "m-paid"
timeout_s = 5
probe = false
"""


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI().start()
    try:
        yield fake
    finally:
        await fake.stop()


def work(task_id: str, agent_id: str) -> ProposeRequested:
    view = TaskView(task_id=task_id, prompt="What is 17*23?", answer_format="integer")
    return ProposeRequested(
        task_id=task_id, round=1, message_id=ids.proposal(task_id, 1, 0) + ":work", seat=0,
        agent_id=agent_id, task=view, deadline=4e9,
    )  # fmt: skip


async def proposals(nc: Client, task_id: str) -> list[ProposalSubmitted]:
    stored = await nsed.task_events(nc, task_id, "proposal", wait=0.1)
    return [msgspec.convert(p, ProposalSubmitted) for p in stored]


async def test_runners_work_with_the_record_bucket_gone(
    tmp_path: Path, nats_server: NatsServer, nc: Client, server: FakeOpenAI
) -> None:
    pool = tmp_path / "pool.toml"
    pool.write_text(POOL.format(base_url=server.base_url))
    inproc = InProcessServices(url=nats_server.url, pool=pool, home=str(tmp_path / "home"))
    js = nc.jetstream()
    try:
        inproc.start_agent("oracle")
        inproc.start_agent("paid")
        await ready(nc, services=(), agents=("oracle", "paid"))
        await js.delete_key_value(subjects.DELIBERATIONS_BUCKET)
        references = await js.key_value(subjects.REFERENCES_BUCKET)
        await references.put("t-truth", b"98765")  # no agent could guess it
        await js.publish(subjects.concluded("t-over"), b"{}")  # a result: the task ended

        for task_id, agent in (("t-truth", "oracle"), ("t-over", "paid"), ("t-live", "paid")):
            await js.publish(subjects.subject_for(work(task_id, agent)), msgspec.json.encode(
                work(task_id, agent)))  # fmt: skip
        await until(lambda: nsed.idle(nc), what="the runners to handle their work")

        [truth] = await proposals(nc, "t-truth")
        assert truth.extracted_answer == "98765"  # the reference, not a hidden label
        assert await proposals(nc, "t-over") == []
        [live] = await proposals(nc, "t-live")
        assert live.status == "ok"
        assert server.reported["m-paid"].calls == 1  # the ended task's call was not made
        assert inproc.failures() == []
        with pytest.raises(BucketNotFoundError):  # nobody made it again meanwhile
            await js.key_value(subjects.DELIBERATIONS_BUCKET)
    finally:
        await inproc.close()


async def test_the_broker_keeps_an_accepted_tasks_reference_before_round_1(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_service("broker")
    inproc.start_agent("alpha")
    inproc.start_agent("bravo")
    await ready(nc, services=("broker",), agents=("alpha", "bravo"))
    task_id = nsed.new_task_id()
    await nsed.publish_task(nc, nsed.task(task_id, answer="391", team_size=2), msg_id=task_id)
    await until(lambda: proposals(nc, task_id), what="a round-1 proposal")
    references = await nc.jetstream().key_value(subjects.REFERENCES_BUCKET)
    assert (await references.get(task_id)).value == b"391"
