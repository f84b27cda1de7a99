"""The ``openai`` backend against a scripted server over real loopback HTTP: retries with
backoff, timeouts, broken bodies, readable errors, structured-output negotiation, usage."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest

from schemas.propose import ProposeRequested
from schemas.review import Candidate, ReviewRequested
from schemas.task import Sampling, TaskView
from services.agent_runner.backends.base import BackendError
from services.agent_runner.backends.grammar import answer_grammar
from services.agent_runner.backends.openai import OpenAIBackend
from services.agent_runner.config import AgentProfile, OpenAIConfig
from services.agent_runner.prompts import prompt_tokens
from services.stack.natsserver import free_port
from tests.support.fakeopenai import FakeOpenAI

TASK = TaskView(task_id="t", prompt="What is 6*7?", answer_format="integer")


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI(slow_s=1.0).start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def backend(
    session: aiohttp.ClientSession, base_url: str, model: str = "m", **over: object
) -> OpenAIBackend:
    config = OpenAIConfig(base_url=base_url, model=model, backoff_s=0.01, max_backoff_s=0.05,
                          timeout_s=0.3, **over)  # type: ignore[arg-type]  # fmt: skip
    profile = AgentProfile(id="a", model=model, family="f", backend="openai", openai=config)
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    made = OpenAIBackend(profile, session)
    made.client._sleep = record
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


def propose() -> ProposeRequested:
    return ProposeRequested(task_id="t", round=1, message_id="m", seat=0, agent_id="a",
                            task=TASK, deadline=0.0)  # fmt: skip


def review() -> ReviewRequested:
    candidates = (Candidate(label="Candidate_A", content="\\boxed{42}"),
                  Candidate(label="Candidate_B", content="\\boxed{41}"))  # fmt: skip
    return ReviewRequested(task_id="t", round=1, message_id="m", seat=0, agent_id="a",
                           task=TASK, candidates=candidates, deadline=0.0)  # fmt: skip


async def test_429_and_500_are_retried_with_backoff_then_succeed(server, session) -> None:
    server.scripts["m"] = ["429", "500", "ok"]
    agent = backend(session, server.base_url)
    draft = await agent.propose(propose())
    assert "\\boxed{42}" in draft.content
    assert len(server.seen("m")) == 3
    assert agent.sleeps[0] == pytest.approx(0.05)  # Retry-After honoured
    assert 0 <= agent.sleeps[1] <= 0.02  # full jitter within the doubled base
    reported = server.reported["m"]
    assert (draft.input_tokens, draft.output_tokens) == (
        reported.input_tokens,
        reported.output_tokens,
    )


async def test_a_slow_server_times_out_and_the_retry_succeeds(server, session) -> None:
    server.scripts["m"] = ["slow", "ok"]
    draft = await backend(session, server.base_url).propose(propose())
    assert draft.content


async def test_timeouts_every_time_give_up_with_a_readable_error(server, session) -> None:
    server.scripts["m"] = ["slow", "slow"]
    with pytest.raises(
        BackendError, match=r"did not answer within 0.3s \(gave up after 2 attempts\)"
    ):
        await backend(session, server.base_url, max_retries=1).propose(propose())


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
async def test_broken_bodies_are_retried(server, session, fault: str) -> None:
    server.scripts["m"] = [fault, "ok"]
    draft = await backend(session, server.base_url).propose(propose())
    assert "\\boxed{42}" in draft.content
    assert len(server.seen("m")) == 2


async def test_an_auth_error_says_which_variable_to_check_and_is_not_retried(
    server, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "wrong")
    server.scripts["m"] = ["401"]
    agent = backend(session, server.base_url, api_key_env="FAKE_KEY")
    with pytest.raises(
        BackendError, match=r"authentication failed at .* \(HTTP 401\): check \$FAKE_KEY"
    ):
        await agent.propose(propose())
    assert len(server.seen("m")) == 1


async def test_a_wrong_model_name_is_named_in_the_error(server, session) -> None:
    server.scripts["ghost"] = ["404"]
    with pytest.raises(BackendError, match=r"model 'ghost' not found at .* \(HTTP 404\)"):
        await backend(session, server.base_url, model="ghost").propose(propose())


async def test_an_unreachable_endpoint_is_named_after_the_retries(session) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(
        BackendError, match=r"cannot reach http://127.0.0.1:\d+/v1: .*gave up after 2"
    ):
        await backend(session, url, max_retries=1).propose(propose())


async def test_auto_steps_down_from_json_schema_and_remembers(server, session) -> None:
    server.scripts["m"] = ["no_schema", "no_schema"]
    agent = backend(session, server.base_url)
    first = await agent.review(review())
    assert [e.label for e in first.entries] == ["Candidate_A", "Candidate_B"]
    kinds = [r.get("response_format", {}).get("type") for r in server.seen("m")]
    assert kinds == ["json_schema", "json_object"]
    await agent.review(review())
    assert server.seen("m")[-1]["response_format"]["type"] == "json_object"  # remembered
    assert "schema" in server.seen("m")[-1]["response_format"]


async def test_answer_grammar_sends_proposals_a_grammar_ending_in_the_final_line(
    server, session
) -> None:
    await backend(session, server.base_url).propose(propose())
    assert "grammar" not in server.seen("m")[-1]  # off by default
    await backend(session, server.base_url, answer_grammar=True).propose(propose())
    grammar = server.seen("m")[-1]["grammar"]
    assert grammar == answer_grammar("integer", OpenAIConfig(base_url="x", model="m").max_tokens)
    await backend(session, server.base_url, answer_grammar=True).review(review())
    assert "grammar" not in server.seen("m")[-1]  # reviews are held to the review schema


async def test_the_schema_sent_holds_each_claim_to_pieces_of_its_own_candidate(
    server, session
) -> None:
    agent = backend(session, server.base_url, structured_output="json_object")
    await agent.review(review())
    schema = server.seen("m")[-1]["response_format"]["schema"]
    entries = schema["properties"]["reviews"]["properties"]
    assert list(entries) == ["Candidate_A", "Candidate_B"]
    quotes = {
        label: entry["properties"]["claims"]["items"]["properties"]["quote"]["enum"]
        for label, entry in entries.items()
    }
    assert quotes == {"Candidate_A": ["boxed{42}"], "Candidate_B": ["boxed{41}"]}


async def test_a_review_with_long_reasoning_excerpts_still_fits_the_context_window(
    server, session
) -> None:
    config = OpenAIConfig(base_url=server.base_url, model="m", review_max_tokens=256,
                          backoff_s=0.01, max_backoff_s=0.05, timeout_s=0.3)  # fmt: skip
    profile = AgentProfile(id="a", model="m", family="f", backend="openai", openai=config,
                           context_window=2048)  # fmt: skip
    long = "step " * 3000
    candidates = tuple(
        Candidate(label=label, content=long + "\\boxed{42}", reasoning_excerpt="why " + long)
        for label in ("Candidate_A", "Candidate_B")
    )
    request = ReviewRequested(task_id="t", round=1, message_id="m", seat=0, agent_id="a",
                              task=TASK, candidates=candidates,
                              own=Candidate(label="own", content=long), deadline=0.0)  # fmt: skip
    draft = await OpenAIBackend(profile, session).review(request)
    assert [e.label for e in draft.entries] == ["Candidate_A", "Candidate_B"]
    sent = server.seen("m")[-1]["messages"]
    assert prompt_tokens(sent) <= 2048 - 256  # excerpts are cut like every other text
    assert '<reasoning label="Candidate_B">\nwhy step' in sent[1]["content"]


def test_a_missing_api_key_variable_refuses_to_start() -> None:
    from services._runtime.errors import ConfigError
    from services.agent_runner.backends.openai import api_key

    config = OpenAIConfig(
        base_url="http://127.0.0.1:1/v1", model="m", api_key_env="NSED_TEST_UNSET_KEY"
    )
    with pytest.raises(ConfigError, match="environment variable NSED_TEST_UNSET_KEY is not set"):
        api_key(config, "a")


@pytest.mark.parametrize(
    ("asked", "sent"), [(100, 100), (10_000, 4096), (None, 4096)], ids=["below", "above", "none"]
)
async def test_a_tasks_sampling_caps_the_proposal_and_sets_its_temperature(
    server, session, asked: int | None, sent: int
) -> None:
    sampling = Sampling(max_tokens=asked, temperature=0.1 if asked else None)
    task = msgspec.structs.replace(TASK, sampling=sampling)
    agent = backend(session, server.base_url, max_tokens=4096, temperature=0.7)
    await agent.propose(msgspec.structs.replace(propose(), task=task))
    await agent.review(msgspec.structs.replace(review(), task=task))
    proposal, review_call = server.seen("m")
    assert proposal["max_tokens"] == sent  # the task's limit, never above the agent's own
    assert proposal["temperature"] == (0.1 if asked else 0.7)
    # A review is JSON of its own size, at the agent's own settings.
    assert review_call["max_tokens"] == agent.config.review_max_tokens
    assert review_call["temperature"] == 0.7
