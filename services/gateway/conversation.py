"""A chat request as a task (pure): the models a client may name, the request's fields,
and the conversation rendered into the task's ``system`` and ``prompt``.

Consumes the body of ``POST /v1/chat/completions`` (bytes); emits a ``TaskSubmitted`` or
raises ``InvalidRequest`` (400) / ``NotFound`` (404, an unknown model). The rendering:

- system (and developer) messages, in order, joined by a blank line → ``system``;
- one user message and nothing else → ``prompt`` is its text, as it is;
- any longer conversation → ``prompt`` is a transcript, one ``### <Role>`` heading per
  message in order, followed by the instruction to reply to it as the assistant.

``max_tokens`` (or ``max_completion_tokens``) and ``temperature`` become the task's
``sampling``, applied to each member's proposal. An ``nsed`` object may set any policy
field, and ``answer_format``, ``domain`` and ``reference_answer``; its other keys are
refused.
"""

from __future__ import annotations

import difflib
import time
import uuid
from typing import Annotated, Any, get_args

import msgspec

from schemas.task import Policy, ProtocolName, TaskSubmitted
from services.core.wording import plain
from services.gateway.errors import InvalidRequest, NotFound

DEFAULT_MODEL = "nsed"
# ``nsed`` is the default policy (the nsed protocol); ``nsed-<protocol>`` each other one.
MODELS: dict[str, str] = {
    (DEFAULT_MODEL if name == "nsed" else f"{DEFAULT_MODEL}-{name}"): name
    for name in get_args(ProtocolName)
}
# Task fields an ``nsed`` object may set (a reference answer: for simulated agents, as
# ``nsed submit --answer`` gives one; never shown to any agent).
TASK_KEYS = frozenset({"answer_format", "domain", "reference_answer"})
POLICY_KEYS = frozenset(f.encode_name for f in msgspec.structs.fields(Policy))
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
INSTRUCTION = "Reply to the last message above, as the assistant."


class Part(msgspec.Struct, frozen=True):
    type: str
    text: str | None = None


class Message(msgspec.Struct, frozen=True):
    role: str
    content: str | list[Part] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct, frozen=True):
    include_usage: bool = False


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What the gateway reads of OpenAI's request; other fields are ignored."""

    model: str
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] | None = None
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    tools: list[Any] | None = None
    nsed: dict[str, Any] | None = None


_request_decoder = msgspec.json.Decoder(ChatRequest)


def parse(body: bytes) -> ChatRequest:
    try:
        request = _request_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(plain(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the body is not UTF-8: {exc.reason}") from exc
    if request.model not in MODELS:
        raise NotFound(
            f"the model {request.model!r} does not exist; the models: {', '.join(MODELS)}",
            param="model",
            code="model_not_found",
        )
    if request.n not in (None, 1):
        raise InvalidRequest("n must be 1: the council gives one answer", param="n")
    if request.tools:
        raise InvalidRequest("tools are not supported: the council answers in text", param="tools")
    for message in request.messages:
        if message.role not in ROLES:
            raise InvalidRequest(f"unknown role {message.role!r}", param="messages")
    return request


def text_of(message: Message) -> str:
    """A message's text; only text parts can be read by the council."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidRequest(
                f"only text content is supported, not {part.type!r}", param="messages"
            )
    return "".join(part.text or "" for part in message.content)


def render(messages: list[Message]) -> tuple[str | None, str]:
    """``(system, prompt)`` for a conversation; see the module docstring."""
    system = [text_of(m) for m in messages if m.role in ("system", "developer")]
    turns = [(m.role, text_of(m)) for m in messages if m.role not in ("system", "developer")]
    if not any(role == "user" and text.strip() for role, text in turns):
        raise InvalidRequest("the conversation has no user message with text", param="messages")
    joined = "\n\n".join(s for s in system if s.strip())
    if len(turns) == 1:
        return joined or None, turns[0][1]
    transcript = "\n\n".join(f"### {role.capitalize()}\n{text}" for role, text in turns)
    return joined or None, f"{transcript}\n\n{INSTRUCTION}"


def policy_of(request: ChatRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``nsed`` object's policy fields and task fields, the model's protocol among
    them; a key that is neither is refused (with the field it is closest to)."""
    overlay = dict(request.nsed or {})
    protocol = MODELS[request.model]
    if overlay.get("protocol", protocol) != protocol:
        raise InvalidRequest(
            f"the model {request.model!r} is protocol {protocol!r}, but nsed.protocol is "
            f"{overlay['protocol']!r}; name the model nsed-{overlay['protocol']} instead",
            param="nsed.protocol",
        )
    unknown = sorted(set(overlay) - POLICY_KEYS - TASK_KEYS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(POLICY_KEYS | TASK_KEYS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidRequest(f"unknown field nsed.{unknown[0]}{hint}", param="nsed")
    task = {k: overlay.pop(k) for k in TASK_KEYS & set(overlay)}
    return {**overlay, "protocol": protocol}, task


def to_task(request: ChatRequest, task_id: str | None = None) -> TaskSubmitted:
    """The task a request asks for, validated as the broker validates it."""
    system, prompt = render(request.messages)
    policy, fields = policy_of(request)
    sampling = {
        "max_tokens": request.max_completion_tokens or request.max_tokens,
        "temperature": request.temperature,
    }
    raw = {
        "task_id": task_id or f"gw-{uuid.uuid4().hex[:16]}",
        "prompt": prompt,
        "system": system,
        "policy": policy,
        "sampling": {k: v for k, v in sampling.items() if v is not None},
        "metadata": {"source": "gateway", "model": request.model},
        "submitted_at": time.time(),
        **fields,
    }
    try:
        return msgspec.convert(raw, TaskSubmitted)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(_nsed_path(plain(str(exc))), param="nsed") from exc


def _nsed_path(reason: str) -> str:
    """A policy field as the client named it: ``nsed.x``, not ``policy.x``."""
    for prefix, client in (("policy.", "nsed."), ("policy:", "nsed:")):
        if reason.startswith(prefix):
            return client + reason.removeprefix(prefix)
    return reason
