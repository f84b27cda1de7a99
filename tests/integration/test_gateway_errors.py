"""Every error status of the gateway, as the official ``openai`` SDK raises it: the status,
the SDK's exception class, and OpenAI's error body (message, type, param, code)."""

from __future__ import annotations

from typing import Any

import msgspec
import openai
import pytest
from nats.aio.client import Client
from nats.js.api import RawStreamMsg as Msg
from nats.js.errors import NotFoundError

from schemas import subjects
from schemas.gate import CancelRequested
from services.cli import client as cli
from services.gateway.errors import TASK_HEADER
from tests.integration.conftest import ready
from tests.support.gateway import sdk, start_gateway
from tests.support.inprocess import InProcessServices
from tests.support.wait import until

AGENTS = ("alpha", "bravo", "charlie")
QUESTION = [{"role": "user", "content": "What is 17*23?"}]


async def ask(url: str, key: str = "none", **request: Any) -> Any:
    async with sdk(url, key) as client:
        body = {"model": "nsed", "messages": QUESTION, **request}
        return await client.chat.completions.create(**body)


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("request_", "param", "words"),
    [
        ({"messages": []}, None, "messages"),
        ({"messages": [{"role": "system", "content": "Be brief."}]}, "messages", "no user"),
        ({"n": 2}, "n", "n must be 1"),
        ({"extra_body": {"nsed": {"team_size": 0}}}, "nsed", "nsed.team_size"),
        ({"extra_body": {"nsed": {"max_round": 2}}}, "nsed", "did you mean 'max_rounds'"),
        ({"model": "nsed-vote", "extra_body": {"nsed": {"protocol": "debate"}}}, None, "vote"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages",
            "only text",
        ),
    ],
    ids=["no-messages", "no-user", "n", "bad-policy", "unknown-field", "protocol", "image"],
)
async def test_an_invalid_request_is_400_and_says_what_is_wrong(
    inproc: InProcessServices, nc: Client, request_: dict[str, Any], param: str | None, words: str
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(url, **request_)
    error = error_of(caught.value)
    assert error["type"] == "invalid_request_error"
    assert words in error["message"]
    if param is not None:
        assert error["param"] == param


async def test_with_keys_configured_a_request_without_one_is_401(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS, key="k2", api_keys="k1, k2")
    for wrong in ("none", "k3", "k1k2"):
        with pytest.raises(openai.AuthenticationError) as caught:
            await ask(url, key=wrong)
        assert error_of(caught.value)["code"] == "invalid_api_key"
    async with sdk(url, "k1") as client:
        assert (await client.models.list()).data[0].id == "nsed"
    reply = await ask(url, key="k1")
    assert reply.choices[0].message.content


async def test_an_unknown_model_is_404(inproc: InProcessServices, nc: Client) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    with pytest.raises(openai.NotFoundError) as caught:
        await ask(url, model="gpt-4o")
    error = error_of(caught.value)
    assert (error["param"], error["code"]) == ("model", "model_not_found")
    assert "nsed-debate" in error["message"]  # it names the models there are


async def test_no_live_agents_is_503_and_sends_no_task(
    inproc: InProcessServices, nc: Client
) -> None:
    for name in ("broker", "reviewer", "voter", "gate"):
        inproc.start_service(name)
    await ready(nc)
    url = await start_gateway(inproc)
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(url)
    assert caught.value.status_code == 503
    assert "no live agents" in error_of(caught.value)["message"]
    tasks = await nc.jetstream().stream_info(subjects.NSED_TASKS)
    assert tasks.state.messages == 0


async def test_a_team_that_cannot_be_formed_is_503_with_the_brokers_reason(
    inproc: InProcessServices, nc: Client
) -> None:
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    with pytest.raises(openai.InternalServerError) as caught:
        await ask(url, extra_body={"nsed": {"team": ["alpha", "ghost"]}}, stream=True)
    assert caught.value.status_code == 503  # a stream too: it opens once the team is known
    error = error_of(caught.value)
    assert error["code"] == "no_team"
    assert "ghost" in error["message"]
    stored = await cli.stored_result(nc, caught.value.response.headers[TASK_HEADER])
    assert stored is not None
    assert stored.stop_reason == "no_team"


async def test_no_answer_by_the_deadline_is_504(inproc: InProcessServices, nc: Client) -> None:
    inproc.latency_scale = 400.0  # a proposal takes about 20 s
    inproc.start_all(AGENTS)
    await ready(nc, agents=AGENTS)
    url = await start_gateway(inproc, AGENTS)
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(url, extra_body={"nsed": {"deadline_s": 1.0}})
    assert caught.value.status_code == 504
    assert error_of(caught.value)["code"] == "deadline"
    stored = await cli.stored_result(nc, caught.value.response.headers[TASK_HEADER])
    assert stored is not None
    assert (stored.status, stored.stop_reason) == ("failed", "deadline")


async def test_a_task_no_broker_takes_is_504_after_the_team_wait_and_cancelled(
    inproc: InProcessServices, nc: Client
) -> None:
    for name in ("reviewer", "voter", "gate"):
        inproc.start_service(name)
    for agent in AGENTS:
        inproc.start_agent(agent)
    await ready(nc, services=("reviewer", "voter", "gate"), agents=AGENTS)
    url = await start_gateway(inproc, AGENTS, team_wait_s=1.0)
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(url)
    assert caught.value.status_code == 504
    task_id = caught.value.response.headers[TASK_HEADER]
    # The cancel waits up to team_wait_s for a record, then goes out all the same.
    cancel = await until(
        lambda: last_message(nc, f"nsed.events.{task_id}.cancel"), what="the task's cancel"
    )
    assert msgspec.json.decode(cancel.data, type=CancelRequested).task_id == task_id


async def last_message(nc: Client, subject: str) -> Msg | None:
    try:
        return await nc.jetstream().get_last_msg(subjects.NSED_EVENTS, subject)
    except NotFoundError:
        return None
