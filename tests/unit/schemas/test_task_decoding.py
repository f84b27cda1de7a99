"""Task intake decoding: arbitrary bytes and task-shaped JSON decode to a valid task or fail
with a validation error, a plain JSON task takes the defaults, policy errors carry their
msgspec path, blank prompts, bad ids and foreign types are refused, and an exact team sets
the team size and takes its roles in seat order."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import ROLE_INSTRUCTION_MAX_CHARS, Policy, TaskSubmitted

decoder = msgspec.json.Decoder(TaskSubmitted)


@settings(max_examples=300)
@given(
    st.binary(max_size=300)
    | st.text(alphabet='{}[]":,0123456789.-eE tnrufalsepromtypolicy\\', max_size=80).map(str.encode)
)
def test_arbitrary_bytes_decode_to_a_task_or_a_decode_error(payload: bytes) -> None:
    try:
        task = decoder.decode(payload)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        return
    assert isinstance(task, TaskSubmitted)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
policy_fields = st.sampled_from(list(Policy.__struct_fields__))
task_like = st.fixed_dictionaries(
    {"prompt": json_values | st.text(max_size=20)},
    optional={
        "task_id": json_values | st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
        "type": st.sampled_from(["task.submitted", "other"]) | json_values,
        "policy": st.dictionaries(policy_fields, json_values | st.integers(-5, 70), max_size=6)
        | json_values,
        "answer_format": st.sampled_from(["text", "integer", "choice", "code", "essay"]),
        "metadata": json_values,
        "unknown_field": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(task_like)
def test_arbitrary_task_shaped_json_decodes_or_fails_with_a_validation_error(
    raw: dict[str, Any],
) -> None:
    try:
        task = decoder.decode(json.dumps(raw).encode())
    except msgspec.ValidationError:
        return
    assert task.prompt.strip()
    assert task.policy.min_team <= task.policy.team_size
    assert set(task.policy.role_instructions) <= set(task.policy.seat_roles())
    assert all(len(t) <= ROLE_INSTRUCTION_MAX_CHARS for t in task.policy.role_instructions.values())
    if task.policy.team:  # an exact team sets the size
        assert task.policy.team_size == len(task.policy.team)
        assert len(task.policy.team) >= 2 or task.policy.protocol == "vote"


def test_a_plain_json_task_without_a_type_decodes_with_defaults() -> None:
    task = decoder.decode(b'{"prompt": "What is 6 times 7?", "answer_format": "integer", "x": 1}')
    assert task.prompt == "What is 6 times 7?"
    assert task.task_id is None
    assert task.policy == Policy()
    assert msgspec.json.decode(msgspec.json.encode(task))["type"] == "task.submitted"


@pytest.mark.parametrize(
    ("policy", "message", "path"),
    [
        ({"team_size": 2, "min_team": 3}, "min_team (3) exceeds team_size (2)", "$.policy"),
        ({"min_rounds": 4, "max_rounds": 2}, "min_rounds (4) exceeds max_rounds (2)", "$.policy"),
        (
            {"team_size": 3, "roles": {"a": 1}},
            "the role counts must add up to team_size",
            "$.policy",
        ),
        (
            {"team_size": 2, "pinned_agents": ["a", "b", "c"]},
            "more pinned agents than seats",
            "$.policy",
        ),
        ({"team_size": 0}, "Expected `int` >= 1", "$.policy.team_size"),
        ({"gamma": 1.5}, "<= 1.0", "$.policy.gamma"),
        ({"state_token_budget": 10}, ">= 256", "$.policy.state_token_budget"),
        ({"pinned_agents": ["no.dots"]}, "matching regex", "$.policy.pinned_agents[0]"),
        ({"protocol": "chat"}, "Invalid enum value 'chat'", "$.policy.protocol"),
        (
            {"protocol": "moa", "team": ["a"]},
            "protocol 'moa' needs a team of at least 2",
            "$.policy",
        ),
        (
            {"team": ["a", "b"], "roles": {"member": 3}},
            "the role counts must add up to team_size (2)",
            "$.policy",
        ),
        (
            {
                "team_size": 2,
                "roles": {"solver": 1, "verifier": 1},
                "role_instructions": {"verfier": "check"},
            },
            "role_instructions for role(s) no seat has: verfier (roles: solver, verifier)",
            "$.policy",
        ),
        (
            {"role_instructions": {"member": "x" * 2001}},
            "Expected `str` of length <= 2000",
            "$.policy.role_instructions[...]",
        ),
        (
            {"protocol": "moa", "team_size": 2, "roles": {"aggregator": 2}},
            "the role 'aggregator' is reserved for moa's final seat",
            "$.policy",
        ),
        (
            {"team": ["a", "b"], "pinned_agents": ["c"]},
            "pinned agents outside the team",
            "$.policy",
        ),
    ],
)
def test_policy_errors_carry_the_msgspec_path(
    policy: dict[str, Any], message: str, path: str
) -> None:
    payload = msgspec.json.encode({"prompt": "p", "policy": policy})
    with pytest.raises(msgspec.ValidationError) as caught:
        decoder.decode(payload)
    assert message in str(caught.value)
    assert str(caught.value).endswith(f"at `{path}`")


def test_an_exact_team_may_have_roles_taken_in_seat_order() -> None:
    raw = {
        "prompt": "p",
        "policy": {"team": ["a", "b", "c"], "roles": {"verifier": 1, "solver": 2}},
    }
    policy = decoder.decode(msgspec.json.encode(raw)).policy
    assert policy.seat_roles() == ["solver", "solver", "verifier"]  # sorted by role name


def test_an_exact_team_sets_the_team_size_and_may_repeat_an_agent() -> None:
    task = decoder.decode(b'{"prompt": "p", "policy": {"protocol": "vote", "team": ["a", "a"]}}')
    assert (task.policy.team, task.policy.team_size, task.policy.min_team) == (("a", "a"), 2, 2)
    alone = decoder.decode(b'{"prompt": "p", "policy": {"protocol": "vote", "team": ["a"]}}')
    assert (alone.policy.team_size, alone.policy.min_team) == (1, 1)  # best single agent
    assert decoder.decode(msgspec.json.encode(task)) == task


@pytest.mark.parametrize(
    "raw",
    [
        b'{"prompt": "   "}',
        b'{"prompt": ""}',
        b'{"task_id": "a.b", "prompt": "p"}',
        b'{"type": "x", "prompt": "p"}',
    ],
)
def test_invalid_tasks_are_validation_errors(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(raw)
