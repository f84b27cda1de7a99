"""Subjects of the wire messages: a concrete subject and matching filters for every step of
the flow table, the subject helpers, and every service's routes against that table."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from schemas import subjects
from schemas.ballot import VotingOpened
from schemas.base import Message
from schemas.dlq import DeadLetter
from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState, ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskRefused, TaskSubmitted, TaskView
from schemas.team import TeamSelected
from schemas.timers import PhaseDue
from services.agent_runner.config import AgentProfile, SimConfig
from services.agent_runner.handlers import RunnerDeps
from services.agent_runner.routes import routes as runner_routes
from services.broker.routes import routes as broker_routes
from services.gate.routes import routes as gate_routes
from services.reviewer.routes import routes as reviewer_routes
from services.voter.routes import routes as voter_routes

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
        "nsed.events.t1.proposal.a1",
    ),
    ReviewRequested: (
        ReviewRequested(**EV, seat=0, agent_id="a1", task=VIEW, candidates=(), deadline=0.0),
        "nsed.work.a1.review",
    ),
    ReviewSubmitted: (
        ReviewSubmitted(**EV, seat=0, agent_id="a2"),
        "nsed.events.t1.review.a2",
    ),
    VotingOpened: (VotingOpened(**EV), "nsed.events.t1.voting"),
    TallyComputed: (TallyComputed(**EV, scores=(), votes={}, winner=None), "nsed.events.t1.tally"),
    RoundContinued: (
        RoundContinued(**EV, next_round=3, state=ConsensusState()),
        "nsed.events.t1.continued",
    ),
    CancelRequested: (CancelRequested(**EV, reason="too slow"), "nsed.events.t1.cancel"),
    DeliberationConcluded: (
        DeliberationConcluded(**EV, status="completed", stop_reason="converged"),
        "nsed.concluded.t1",
    ),
    PhaseDue: (
        PhaseDue(**EV, phase="reviewing", owner="voter", due_at=1.0),
        "nsed.timers.voter",
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
    assert subjects.filter_for(ProposalSubmitted) == "nsed.events.*.proposal.*"
    assert subjects.filter_for(ProposalSubmitted, task_id="t9") == "nsed.events.t9.proposal.*"
    assert subjects.filter_for(ReviewSubmitted, agent_id="a1") == "nsed.events.*.review.a1"
    assert subjects.filter_for(PhaseDue, owner="gate") == "nsed.timers.gate"
    assert subjects.filter_for(TaskSubmitted) == "nsed.tasks"


def test_subject_helpers_agree_with_the_flow_table() -> None:
    assert subjects.results("t1") == "nsed.results.t1"
    assert subjects.concluded("t1") == subjects.subject_for(EXAMPLES[DeliberationConcluded][0])
    assert subjects.task_events("t1") == "nsed.events.t1.>"
    assert subjects.dlq("gate") == "nsed.dlq.gate"
    assert subjects.agent_work("a1") == "nsed.work.a1.>"
    assert subjects.agent_key("a1", "i1") == "a1.i1"
    for kind in (TeamSelected, ProposalSubmitted, VotingOpened, TallyComputed, RoundContinued):
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
