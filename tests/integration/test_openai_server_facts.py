"""What the ``openai`` backend learns from a local server, against a scripted one: review
prompts fitted by the server's own token count (else by the estimate with its margin), the
tokenizer found once and counts cached, the system prompt folded into the first user turn
on request, and one warning at start when the chat template would drop it."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from schemas.propose import ProposeRequested
from schemas.review import Candidate, ReviewRequested
from schemas.task import TaskView
from services.agent_runner.backends.openai import OpenAIBackend
from services.agent_runner.backends.server import ESTIMATE_MARGIN, TEMPLATE_TOKENS_PER_MESSAGE
from services.agent_runner.config import AgentProfile, OpenAIConfig
from services.agent_runner.prompts import COUNCIL, prompt_tokens
from tests.support.fakeopenai import FakeOpenAI

TASK = TaskView(task_id="t", prompt="What is 6*7?", answer_format="integer")
WINDOW, ANSWER = 2048, 256


async def serving(**kind: object) -> FakeOpenAI:
    return await FakeOpenAI(**kind).start()  # type: ignore[arg-type]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def backend(session: aiohttp.ClientSession, server: FakeOpenAI, **over: object) -> OpenAIBackend:
    config = OpenAIConfig(base_url=server.base_url, model="m", review_max_tokens=ANSWER,
                          backoff_s=0.01, max_backoff_s=0.05, timeout_s=2, **over)  # type: ignore[arg-type]  # fmt: skip
    profile = AgentProfile(id="a", model="m", family="f", backend="openai", openai=config,
                           context_window=WINDOW)  # fmt: skip
    return OpenAIBackend(profile, session)


def long_review() -> ReviewRequested:
    # number-dense text: what a model's arithmetic looks like, and what the estimate
    # under-counts most
    long = "16 - 3 - 4 = 9; 9 * 2 = 18. " * 400
    candidates = tuple(Candidate(label=label, content=long + "\\boxed{18}")
                       for label in ("Candidate_A", "Candidate_B"))  # fmt: skip
    return ReviewRequested(task_id="t", round=1, message_id="m", seat=0, agent_id="a",
                           task=TASK, candidates=candidates,
                           own=Candidate(label="own", content=long), deadline=0.0)  # fmt: skip


def propose() -> ProposeRequested:
    return ProposeRequested(task_id="t", round=1, message_id="m", seat=0, agent_id="a",
                            task=TASK, deadline=0.0)  # fmt: skip


def counted(server: FakeOpenAI, messages: list[dict[str, str]]) -> int:
    return sum(server.count(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)


@pytest.mark.parametrize("kind", ["llama-cpp-python", "llama.cpp"])
async def test_a_review_prompt_fits_the_window_as_the_server_counts_it(session, kind) -> None:
    server = await serving(tokenizer=kind, chars_per_token=2.5)  # denser than chars/4
    try:
        agent = backend(session, server)
        await agent.review(long_review())
        sent = server.seen("m")[-1]["messages"]
        assert counted(server, sent) <= WINDOW - ANSWER
        assert counted(server, sent) > (WINDOW - ANSWER) * 0.6  # fitted, not starved
        await agent.review(long_review())
    finally:
        await server.stop()
    # the tokenizer was looked for once ("ok"), and each text counted once however often
    # it was needed
    texts = [text for _, text in server.paths]
    assert texts.count("ok") == 1
    assert len(texts) == len(set(texts))


async def test_without_a_server_tokenizer_the_estimate_is_used_with_its_margin(session) -> None:
    server = await serving()
    try:
        await backend(session, server).review(long_review())
        sent = server.seen("m")[-1]["messages"]
    finally:
        await server.stop()
    assert math.ceil(prompt_tokens(sent) * (1 + ESTIMATE_MARGIN)) <= WINDOW - ANSWER


async def test_fold_system_sends_the_system_prompt_in_the_first_user_turn(session) -> None:
    server = await serving()
    try:
        await backend(session, server, fold_system=True).propose(propose())
        [system_free] = server.seen("m")
    finally:
        await server.stop()
    roles = [m["role"] for m in system_free["messages"]]
    assert roles == ["user"]
    assert system_free["messages"][0]["content"].startswith(COUNCIL)
    assert "What is 6*7?" in system_free["messages"][0]["content"]


async def inspected(
    server: FakeOpenAI,
    session: aiohttp.ClientSession,
    capfd: pytest.CaptureFixture[str],
    **over: object,
) -> list[dict[str, Any]]:
    """The chat-template warnings a backend's start-up check logs, read from stderr as a
    person would (structlog's capture misses loggers another test cached)."""
    stop = asyncio.Event()
    stop.set()  # inspect checks, then returns at once instead of idling
    capfd.readouterr()
    await backend(session, server, **over).inspect(stop)
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    return [e for e in lines if e.get("event") == "chat_template_problem"]


@pytest.mark.parametrize(
    ("kind", "dropped", "template", "problem"),
    [
        ("llama-cpp-python", True, "x", "the chat template drops the system message"),
        ("llama.cpp", True, "x", "the chat template drops the system message"),
        ("llama.cpp", False, "", "the model has no chat template"),
    ],
)
async def test_a_runner_warns_once_at_start_when_the_system_prompt_would_not_arrive(
    session,
    capfd: pytest.CaptureFixture[str],
    kind: str,
    dropped: bool,
    template: str,
    problem: str,
) -> None:
    server = await serving(tokenizer=kind, drops_system=dropped, chat_template=template)
    try:
        [warning] = await inspected(server, session, capfd)
        assert warning["problem"].startswith(problem)
        assert "fold_system = true" in warning["hint"]
        assert await inspected(server, session, capfd, fold_system=True) == []  # folded: not asked
    finally:
        await server.stop()


@pytest.mark.parametrize("kind", ["llama-cpp-python", "llama.cpp", None])
async def test_a_template_that_keeps_the_system_message_or_an_unknown_server_is_silent(
    session, capfd: pytest.CaptureFixture[str], kind: str | None
) -> None:
    server = await serving(tokenizer=kind)
    try:
        assert await inspected(server, session, capfd) == []
    finally:
        await server.stop()
    # only llama-cpp-python needs completions to tell (two, of one token each)
    probes = [r for r in server.seen("m") if r["max_tokens"] == 1]
    assert len(probes) == (2 if kind == "llama-cpp-python" else 0)
