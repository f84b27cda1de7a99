"""The permission table (``services.stack.permissions``): what it grants each principal,
read with NATS's own wildcard rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import subjects
from services._runtime.credentials import ADMIN, ANONYMOUS, agent_principal, inbox_prefix
from services.stack import permissions
from services.stack.permissions import Agent, grant, table

agent_ids = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)


def matches(pattern: str, subject: str) -> bool:
    """Whether a NATS permission subject (``*`` one token, ``>`` the rest) covers ``subject``."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def allows(patterns: tuple[str, ...], subject: str) -> bool:
    return any(matches(p, subject) for p in patterns)


def test_the_matcher_reads_wildcards_as_nats_does() -> None:
    assert matches("a.*.c", "a.b.c")
    assert not matches("a.*.c", "a.b.d")
    assert matches("a.>", "a.b.c")
    assert not matches("a.>", "a")
    assert not matches("a.b", "a.b.c")


def records_read() -> list[str]:
    stream, bucket = f"KV_{subjects.DELIBERATIONS_BUCKET}", subjects.DELIBERATIONS_BUCKET
    return [
        f"$JS.API.DIRECT.GET.{stream}.{subjects.kv_subject(bucket, 't1')}",
        f"$JS.API.DIRECT.GET.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.c.>",
    ]


def work_of(agent_id: str) -> list[str]:
    name, work = f"agent-{agent_id}", subjects.agent_work(agent_id)
    return [
        f"$JS.API.CONSUMER.CREATE.{subjects.NSED_WORK}.{name}.{work}",
        f"$JS.API.CONSUMER.MSG.NEXT.{subjects.NSED_WORK}.{name}",
        f"$JS.ACK.{subjects.NSED_WORK}.{name}.1.2.3.4.5",
        f"$JS.API.DIRECT.GET.{subjects.NSED_WORK}",
        subjects.kv_subject(subjects.AGENTS_BUCKET, f"{agent_id}.instance"),
    ]


@given(mine=agent_ids, other=agent_ids, simulated=st.booleans())
def test_an_agent_may_not_read_records_nor_another_agents_work_nor_write_its_card(
    mine: str, other: str, simulated: bool
) -> None:
    granted = grant(agent_principal(mine), Agent(mine, simulated))
    assert not any(allows(granted.publish, s) for s in records_read())
    if other != mine:
        assert not any(allows(granted.publish, s) for s in work_of(other))
    assert all(allows(granted.publish, s) for s in work_of(mine)[:3])


@given(mine=agent_ids, simulated=st.booleans())
def test_an_agent_may_not_make_or_change_a_stream_and_reads_references_only_if_simulated(
    mine: str, simulated: bool
) -> None:
    granted = grant(agent_principal(mine), Agent(mine, simulated))
    for stream in (*subjects.STREAM_SUBJECTS, f"KV_{subjects.DELIBERATIONS_BUCKET}"):
        for verb in ("CREATE", "UPDATE", "DELETE", "PURGE"):
            assert not allows(granted.publish, f"$JS.API.STREAM.{verb}.{stream}")
    reference = subjects.kv_subject(subjects.REFERENCES_BUCKET, "t1")
    read = f"$JS.API.DIRECT.GET.KV_{subjects.REFERENCES_BUCKET}.{reference}"
    assert allows(granted.publish, read) is simulated
    assert not allows(granted.publish, reference)  # never written by an agent


@given(ids=st.lists(agent_ids, min_size=1, max_size=4, unique=True))
def test_no_principal_may_subscribe_to_another_principals_inbox(ids: list[str]) -> None:
    grants = table([Agent(i, simulated=True) for i in ids])
    for name, granted in grants.items():
        if name == ADMIN:
            continue
        assert allows(granted.subscribe, f"{inbox_prefix(name)}.x")
        for other in grants:
            if other != name:
                assert not allows(granted.subscribe, f"{inbox_prefix(other)}.x"), (name, other)


def test_the_anonymous_client_submits_hears_and_does_nothing_else() -> None:
    client = grant(ANONYMOUS)
    assert client.publish == (subjects.TASKS,)
    assert allows(client.subscribe, subjects.results("t1"))
    assert allows(client.subscribe, subjects.EVENT_TEAM.format(task_id="t1"))
    assert not allows(client.subscribe, subjects.kv_subject(subjects.DELIBERATIONS_BUCKET, "t1"))
    assert not allows(client.subscribe, subjects.concluded("t1"))
    assert not client.responses


def test_every_step_of_the_flow_table_has_a_principal_to_publish_it() -> None:
    grants = table([Agent("alpha", simulated=False)])
    for step in subjects.FLOW:
        template = subjects.TIMER_SCHEDULES if step.message.__name__ == "PhaseDue" else step.subject
        subject = subjects.fill(template, agent_id="alpha", service=step.producers[0])
        publishers = {
            name for name, g in grants.items() if name != ADMIN and allows(g.publish, subject)
        }
        assert publishers, step.message.__name__


@pytest.mark.parametrize("service", permissions.SERVICES)
def test_a_service_pulls_only_from_its_own_consumers(service: str) -> None:
    granted = grant(service)
    own = {r.name for r in permissions.service_routes(service)}
    assert own
    for other in permissions.SERVICES:
        for route in permissions.service_routes(other):
            subject = f"$JS.API.CONSUMER.MSG.NEXT.{route.stream}.{route.name}"
            assert allows(granted.publish, subject) is (route.name in own)
