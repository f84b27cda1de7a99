"""Base classes and shared field types for every wire message."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.limits import Count, Id, RoundNumber, Tokens, Usd

# Identifiers become NATS subject tokens and consumer names: no dots, spaces or wildcards.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Token = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN)]
TaskId = Token
AgentId = Token

AnswerFormat = Literal["text", "integer", "choice", "code"]
Backend = Literal["sim", "openai"]


class Struct(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=False,
    forbid_unknown_fields=False,
):
    """A frozen value type (not itself a message)."""


class Message(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag_field="type",
    forbid_unknown_fields=False,
):
    """A wire message. Subclasses set an explicit, stable ``tag`` (the JSON ``type``)."""


class Event(Message, frozen=True, kw_only=True):
    """A message about one task: correlation ids travel in the body."""

    task_id: TaskId
    round: RoundNumber
    message_id: Id


class Usage(Struct, frozen=True, kw_only=True):
    """Token usage and its cost, as reported by a backend call (or summed over calls)."""

    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cost_usd: Usd = 0.0
    calls: Count = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            calls=self.calls + other.calls,
        )
