"""A chat request as a task (services/gateway/conversation.py): the rendering of any
conversation, the request's fields, and the ``nsed`` object."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import TaskSubmitted
from services.gateway.conversation import (
    INSTRUCTION,
    MODELS,
    ChatRequest,
    Message,
    Part,
    parse,
    render,
    to_task,
)
from services.gateway.errors import GatewayError, InvalidRequest, NotFound

TEXT = st.text(min_size=0, max_size=40)
ROLE = st.sampled_from(["system", "developer", "user", "assistant", "tool"])


@st.composite
def messages(draw: st.DrawFn) -> list[Message]:
    """Any conversation: roles in any order, text as a string or as text parts."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        role, text = draw(ROLE), draw(TEXT)
        if draw(st.booleans()):
            cut = draw(st.integers(0, len(text)))
            content: Any = [Part(type="text", text=text[:cut]), Part(type="text", text=text[cut:])]
        else:
            content = text
        out.append(Message(role=role, content=content))
    return out


def text(message: Message) -> str:
    if isinstance(message.content, list):
        return "".join(p.text or "" for p in message.content)
    return message.content or ""


@settings(max_examples=300)
@given(messages())
def test_any_conversation_renders_into_system_and_prompt_without_losing_a_word(
    conversation: list[Message],
) -> None:
    turns = [m for m in conversation if m.role not in ("system", "developer")]
    if not any(m.role == "user" and text(m).strip() for m in turns):
        with pytest.raises(InvalidRequest, match="no user message"):
            render(conversation)
        return
    system, prompt = render(conversation)
    instructions = [text(m) for m in conversation if m.role in ("system", "developer")]
    assert system == ("\n\n".join(s for s in instructions if s.strip()) or None)
    if len(turns) == 1:
        assert prompt == text(turns[0])  # a single question is sent as it is
        return
    # Every turn, heading and text, in the order it was said; the instruction last.
    at = 0
    for turn in turns:
        at = prompt.index(f"### {turn.role.capitalize()}\n{text(turn)}", at) + 1
    assert prompt.endswith(INSTRUCTION)
    request = ChatRequest(model="nsed", messages=conversation)
    task = to_task(request, task_id="t-1")
    assert (task.system, task.prompt) == (system, prompt)  # the broker would take it


@settings(max_examples=300)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_body_is_a_request_or_a_400_or_404(body: bytes) -> None:
    outcome: ChatRequest | GatewayError
    try:
        outcome = parse(body)
    except (InvalidRequest, NotFound) as exc:
        outcome = exc  # never another exception
    if isinstance(outcome, GatewayError):
        assert outcome.message.strip()  # a reason a person can read
    else:
        assert outcome.model in MODELS


def request(**fields: Any) -> bytes:
    return json.dumps(
        {"model": "nsed", "messages": [{"role": "user", "content": "Hi"}], **fields}
    ).encode()


def test_each_model_names_its_protocol_and_the_nsed_object_sets_the_policy() -> None:
    assert MODELS == {"nsed": "nsed", "nsed-vote": "vote", "nsed-moa": "moa",
                      "nsed-debate": "debate"}  # fmt: skip
    nsed = {"max_rounds": 2, "team_size": 4, "answer_format": "integer", "domain": "math",
            "reference_answer": "391"}  # fmt: skip
    task = to_task(parse(request(model="nsed-debate", nsed=nsed)))
    assert task.policy.protocol == "debate"
    assert (task.policy.max_rounds, task.policy.team_size) == (2, 4)
    assert (task.answer_format, task.domain, task.reference_answer) == ("integer", "math", "391")
    assert task.task_id is not None
    assert task.task_id.startswith("gw-")
    assert msgspec.convert(msgspec.to_builtins(task), TaskSubmitted) == task


def test_max_tokens_and_temperature_become_the_tasks_sampling() -> None:
    task = to_task(parse(request(max_tokens=50, temperature=0.2)))
    assert (task.sampling.max_tokens, task.sampling.temperature) == (50, 0.2)
    newer = to_task(parse(request(max_tokens=50, max_completion_tokens=70)))
    assert newer.sampling.max_tokens == 70  # the newer name wins
    assert to_task(parse(request())).sampling.max_tokens is None


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"model": "gpt-4o"}, NotFound, "does not exist"),
        ({"messages": "hi"}, InvalidRequest, "messages"),
        ({"temperature": 3}, InvalidRequest, "temperature"),
        ({"max_tokens": 0}, InvalidRequest, "max_tokens"),
        ({"tools": [{"type": "function"}]}, InvalidRequest, "tools"),
        ({"messages": [{"role": "robot", "content": "x"}]}, InvalidRequest, "unknown role"),
        ({"nsed": {"team": ["a b"]}}, InvalidRequest, "nsed.team"),
        ({"nsed": {"min_rounds": 3, "max_rounds": 2}}, InvalidRequest, "min_rounds (3)"),
        ({"nsed": {"prompt": "x"}}, InvalidRequest, "unknown field nsed.prompt"),
        ({"model": "nsed", "nsed": {"protocol": "vote"}}, InvalidRequest, "nsed-vote"),
    ],
)
def test_a_bad_request_is_refused_with_the_field_it_concerns(
    fields: dict[str, Any], error: type[GatewayError], words: str
) -> None:
    with pytest.raises(error) as caught:
        to_task(parse(request(**fields)))
    assert words in caught.value.message
