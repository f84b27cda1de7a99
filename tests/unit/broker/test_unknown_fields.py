"""A task's unknown fields are reported, never its known ones, and never refused."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import TaskSubmitted
from services.broker.unknown_fields import (
    MAX_WARNINGS,
    POLICY_FIELDS,
    TASK_FIELDS,
    field_warnings,
    unknown_keys,
)

VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
KNOWN_TASK = sorted(TASK_FIELDS - {"policy"})


def names(known: frozenset[str]) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12).filter(lambda k: k not in known)


@settings(max_examples=300, deadline=None)
@given(
    known=st.dictionaries(st.sampled_from(KNOWN_TASK), VALUES, max_size=5),
    known_policy=st.dictionaries(st.sampled_from(sorted(POLICY_FIELDS)), VALUES, max_size=5),
    extra=st.dictionaries(names(TASK_FIELDS), VALUES, max_size=4),
    extra_policy=st.dictionaries(names(POLICY_FIELDS), VALUES, max_size=4),
)
def test_every_unknown_key_is_reported_and_no_known_one(
    known: dict[str, Any],
    known_policy: dict[str, Any],
    extra: dict[str, Any],
    extra_policy: dict[str, Any],
) -> None:
    # The values need not be valid: which keys are unknown does not depend on them.
    body = {**known, **extra, "policy": {**known_policy, **extra_policy}}
    reported = unknown_keys(json.dumps(body).encode())
    assert sorted(reported) == sorted([*extra, *(f"policy.{k}" for k in extra_policy)])


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.lists(st.integers()).map(lambda v: json.dumps(v))))
def test_a_payload_that_is_not_an_object_has_no_unknown_keys(payload: bytes | str) -> None:
    raw = payload.encode() if isinstance(payload, str) else payload
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict):
        assert unknown_keys(raw) == ()


def test_a_misspelt_policy_field_is_named_with_the_field_it_resembles() -> None:
    body = {"prompt": "x", "promt": "y", "policy": {"max_round": 3, "team_size": 2}}
    keys = unknown_keys(json.dumps(body).encode())
    assert field_warnings(keys) == (
        "unknown field 'promt' ignored (did you mean 'prompt'?)",
        "unknown field 'policy.max_round' ignored (did you mean 'policy.max_rounds'?)",
    )


def test_a_task_with_unknown_fields_still_decodes() -> None:
    body = {"prompt": "x", "future_field": 1, "policy": {"max_round": 3}}
    task = msgspec.json.decode(json.dumps(body).encode(), type=TaskSubmitted)
    assert task.policy.max_rounds == 6  # forward compatible: the default, not a refusal


def test_many_unknown_fields_make_a_bounded_list_of_warnings() -> None:
    keys = tuple(f"field{i}" for i in range(50))
    lines = field_warnings(keys)
    assert len(lines) == MAX_WARNINGS + 1
    assert lines[-1] == "and 40 more unknown field(s), ignored"
