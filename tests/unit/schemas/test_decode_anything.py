"""Decoding any JSON as any of our messages either gives the message or raises msgspec's own
``ValidationError`` / ``DecodeError``, never another exception; and a route's decoder, the
edge every message crosses, turns any bytes at all into a message or a rejection (which the
worker dead-letters), never an exception (which would end the worker's loop). What the
schema snapshots describe, valid or a value off, decodes the same way."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord
from schemas.review import ReviewRequested
from schemas.stats import AgentStats
from schemas.subjects import FLOW
from schemas.team import AgentCard
from services._runtime.route import Route
from services.broker.registry import Registry, StatsCache
from services.broker.unknown_fields import unknown_keys
from services.gateway.conversation import parse
from services.gateway.errors import InvalidRequest
from tests.support.schema_data import ANY_JSON, documents, load, mutated

SNAPSHOTTED: list[type] = [step.message for step in FLOW] + [AgentCard]
KINDS = [*SNAPSHOTTED, DeliberationRecord, AgentStats]
# What routes decode: one message type each, or the runner's work, either of two.
ROUTED = [(t,) for t in SNAPSHOTTED] + [(ProposeRequested, ReviewRequested)]
JSON_TEXT = ANY_JSON | st.dictionaries(
    st.sampled_from(["type", "task_id", "round", "prompt", "seat", "content"]), ANY_JSON
)
# JSON whose strings hold bytes that are not UTF-8 (a lone continuation byte, a cut
# sequence, a byte UTF-8 never uses, an encoded surrogate), in fields a decoder reads.
NOT_UTF8 = (b"\x80", b"\x96", b"\xc3", b"\xe2\x82", b"\xff", b"\xed\xa0\x80")
FIELDS = ("type", "task_id", "message_id", "prompt", "content", "agent_id", "reason", "phase")
BROKEN_UTF8 = st.builds(
    lambda fields, bad: (
        b"{" + b", ".join(b'"%s": "x%s"' % (f.encode(), bad) for f in fields) + b"}"
    ),
    st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True),
    st.sampled_from(NOT_UTF8),
)
BYTES = st.binary(max_size=256) | BROKEN_UTF8


def decode(payload: bytes, kind: type) -> Any:
    try:
        return msgspec.json.decode(payload, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), document=JSON_TEXT)
def test_decoding_arbitrary_json_raises_only_msgspecs_errors(kind: type, document: Any) -> None:
    decode(json.dumps(document, ensure_ascii=False).encode(), kind)


async def _unused(message: Any, delivery: Any) -> list[Any]:
    raise AssertionError("not called")


@settings(max_examples=300, deadline=None)
@given(consumes=st.sampled_from(ROUTED), payload=BYTES)
def test_a_routes_decoder_turns_any_bytes_into_a_message_or_a_rejection(
    consumes: tuple[type, ...], payload: bytes
) -> None:
    message, rejection = Route(name="r", consumes=consumes, handler=_unused).decode(payload)
    assert (message is None) != (rejection is None)
    if rejection is not None:
        assert rejection.reason


@pytest.mark.parametrize("kind", SNAPSHOTTED, ids=lambda t: t.__name__)
def test_decoding_documents_of_the_snapshot_raises_only_msgspecs_errors(kind: type) -> None:
    """Valid and one-value-off documents of each snapshot: some of them decode (the
    snapshot cannot say what a message checks across fields), and none raises anything
    but msgspec's errors."""
    schema = load(kind.__name__)
    decoded: list[Any] = []

    # 80, not fewer: about 3 in 10 documents of TaskSubmitted decode (its fields check each
    # other), and 25 of them once held none.
    @settings(max_examples=80, deadline=None)
    @given(document=documents(schema) | mutated(schema))
    def check(document: Any) -> None:
        decoded.append(decode(json.dumps(document).encode(), kind))

    check()
    assert any(d is not None for d in decoded), f"no document of {kind.__name__} decoded"


@pytest.mark.parametrize("bad", NOT_UTF8)
def test_every_reader_of_outside_bytes_takes_a_string_that_is_not_utf8_as_undecodable(
    bad: bytes,
) -> None:
    """A card or telemetry value in KV, a task's raw keys, a chat request's body: each is
    read with the same two errors in mind, so none of them ends a watcher or a request with
    a traceback."""
    value = b'{"agent_id": "a", "instance_id": "x' + bad + b'"}'
    registry = Registry(stale_after_s=10.0)
    registry.apply("a.i1", value, "PUT")
    assert registry.live() == []
    cache = StatsCache()
    cache.apply("general.a", b'{"agent_id": "x' + bad + b'"}', "PUT")
    assert cache.values == {}
    assert unknown_keys(b'{"prompt": "p", "zz": "x' + bad + b'"}') == ()
    body = b'{"model": "nsed", "messages": [{"role": "user", "content": "x' + bad + b'"}]}'
    with pytest.raises(InvalidRequest, match="not UTF-8"):
        parse(body)
