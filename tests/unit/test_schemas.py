"""Wire messages: intake decoding of anything, policy validation paths, subjects for every
step of the flow table, and every service's routes against that table."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import subjects
from schemas.ballot import BallotAccepted
from schemas.base import Message
from schemas.dlq import DeadLetter
from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState, ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import ROLE_INSTRUCTION_MAX_CHARS, Policy, TaskRefused, TaskSubmitted, TaskView
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services.agent_runner.config import AgentProfile, SimConfig
from services.agent_runner.handlers import RunnerDeps
from services.agent_runner.routes import routes as runner_routes
from services.broker.routes import routes as broker_routes
from services.gate.routes import routes as gate_routes
from services.reviewer.routes import routes as reviewer_routes
from services.voter.routes import routes as voter_routes

decoder = msgspec.json.Decoder(TaskSubmitted)
EV: dict[str, Any] = {"task_id": "t1", "round": 2, "message_id": "m1"}
VIEW = TaskView(task_id="t1", prompt="p")
EXAMPLES: dict[type[Message], tuple[Message, str]] = {
    TaskSubmitted: (TaskSubmitted(task_id="t1", prompt="p"), "nsed.tasks"),
    TaskRefused: (
        TaskRefused(task_id="t1", message_id="t1:refused:3", reason="in use"),
        "nsed.events.t1.refused",
    ),
    TeamSelected: (TeamSelected(**EV, seats=()), "nsed.events.t1.team"),
    ProposeRequested: (
        ProposeRequested(**EV, seat=0, agent_id="a1", task=VIEW, deadline=0.0),
        "nsed.work.a1.propose",
    ),
    ProposalSubmitted: (
        ProposalSubmitted(**EV, proposal_id="p", seat=0, agent_id="a1"),
        "nsed.events.t1.proposal",
    ),
    ReviewRequested: (
        ReviewRequested(**EV, seat=0, agent_id="a1", task=VIEW, candidates=(), deadline=0.0),
        "nsed.work.a1.review",
    ),
    ReviewSubmitted: (ReviewSubmitted(**EV, seat=0, agent_id="a2"), "nsed.events.t1.review"),
    BallotAccepted: (
        BallotAccepted(**EV, seat=0, agent_id="a2", valid=True),
        "nsed.events.t1.ballot",
    ),
    TallyComputed: (TallyComputed(**EV, scores=(), votes={}, winner=None), "nsed.events.t1.tally"),
    RoundContinued: (
        RoundContinued(**EV, next_round=3, state=ConsensusState()),
        "nsed.events.t1.continued",
    ),
    CancelRequested: (CancelRequested(**EV, reason="too slow"), "nsed.events.t1.cancel"),
    DeliberationConcluded: (
        DeliberationConcluded(**EV, status="completed", stop_reason="converged"),
        "nsed.results.t1",
    ),
    PhaseDue: (
        PhaseDue(**EV, phase="reviewing", owner="reviewer", due_at=1.0),
        "nsed.timers.reviewer",
    ),
    DeadLetter: (
        DeadLetter(message_id="m", service="voter", subject="s", error="e"),
        "nsed.dlq.voter",
    ),
}


def matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest."""
    pattern, tokens = filter_subject.split("."), subject.split(".")
    for i, p in enumerate(pattern):
        if p == ">":
            return len(tokens) > i
        if i >= len(tokens) or (p != "*" and p != tokens[i]):
            return False
    return len(pattern) == len(tokens)


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


def test_the_flow_table_lists_every_message_once_in_round_order() -> None:
    assert [step.message for step in subjects.FLOW] == list(EXAMPLES)


@pytest.mark.parametrize("step", subjects.FLOW, ids=lambda s: s.message.__name__)
def test_every_step_has_a_concrete_subject_and_a_filter_that_matches_it(
    step: subjects.Step,
) -> None:
    message, expected = EXAMPLES[step.message]
    subject = subjects.subject_for(message)
    assert subject == expected
    assert matches(subjects.filter_for(step.message), subject)
    assert matches(subjects.STREAM_SUBJECTS[subjects.stream_for(step.message)], subject)
    assert subjects.step_of(step.message) is step
    if "{task_id}" in step.subject:
        assert matches(subjects.filter_for(step.message, task_id="t1"), subject)
        assert not matches(subjects.filter_for(step.message, task_id="t2"), subject)


def test_filters_fix_the_named_fields_and_wildcard_the_rest() -> None:
    assert subjects.filter_for(ProposalSubmitted) == "nsed.events.*.proposal"
    assert subjects.filter_for(ProposalSubmitted, task_id="t9") == "nsed.events.t9.proposal"
    assert subjects.filter_for(PhaseDue, owner="gate") == "nsed.timers.gate"
    assert subjects.filter_for(TaskSubmitted) == "nsed.tasks"


def test_subject_helpers_agree_with_the_flow_table() -> None:
    assert subjects.results("t1") == "nsed.results.t1"
    assert subjects.task_events("t1") == "nsed.events.t1.>"
    assert subjects.dlq("gate") == "nsed.dlq.gate"
    assert subjects.agent_work("a1") == "nsed.work.a1.>"
    assert subjects.agent_key("a1", "i1") == "a1.i1"
    for kind in (TeamSelected, ProposalSubmitted, BallotAccepted, TallyComputed, RoundContinued):
        assert matches(subjects.task_events("t1"), subjects.subject_for(EXAMPLES[kind][0]))
    for kind in (ProposeRequested, ReviewRequested):
        assert matches(subjects.agent_work("a1"), subjects.subject_for(EXAMPLES[kind][0]))


def service_routes() -> list[tuple[str, Any]]:
    profile = AgentProfile(id="a1", model="m", family="f", sim=SimConfig())
    runner = RunnerDeps(profile=profile, instance_id="i1", backend=None, clock=lambda: 0.0)
    return [
        ("broker", broker_routes(None)),
        ("agent_runner", runner_routes(runner)),
        ("reviewer", reviewer_routes(None)),
        ("voter", voter_routes(None)),
        ("gate", gate_routes(None)),
    ]


@pytest.mark.parametrize(
    ("service", "table"), service_routes(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_route_agrees_with_the_flow_table(service: str, table: Any) -> None:
    for route in table:
        for kind in route.consumes:
            assert service in subjects.step_of(kind).consumers, (route.name, kind.__name__)
            example = EXAMPLES[kind][0]
            if isinstance(example, PhaseDue):
                example = msgspec.structs.replace(example, owner=service)
            assert matches(route.subject, subjects.subject_for(example)), route.name
            assert route.stream == subjects.stream_for(kind)
        for kind in route.emits:
            assert service in subjects.step_of(kind).producers, (route.name, kind.__name__)
