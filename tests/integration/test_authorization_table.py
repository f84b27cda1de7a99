"""The permission table against a real server: every principal may publish what the flow
table has it produce, and nothing another role produces, nor as another agent or service.

The cases are derived from ``schemas.subjects.FLOW``: each (principal, step) pair is either
the principal's own (it must go through) or not (the server must refuse it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from schemas import subjects
from schemas.timers import PhaseDue
from services._runtime.credentials import ADMIN, ANONYMOUS, agent_principal
from services._runtime.topology import ensure_topology
from services.stack import permissions
from services.stack.permissions import ANONYMOUS_STEPS, BUCKET_NAMES, BUCKETS, Agent, flow_role
from tests.support.authorized import Principal, authorized_server
from tests.support.natsserver import NatsServer

AGENTS = (Agent("alpha", simulated=True), Agent("bravo", simulated=False))
PRINCIPALS = (*permissions.SERVICES, permissions.GATEWAY, ANONYMOUS, agent_principal("alpha"))
SAMPLE = {"task_id": "t-table", "round": "1", "phase": "propose", "owner": "gate"}


def _template(step: subjects.Step) -> str:
    return subjects.TIMER_SCHEDULES if step.message is PhaseDue else step.subject


def _own(principal: str) -> dict[str, str]:
    """The fields a principal fills with itself; another agent's work for a service."""
    role = flow_role(principal)
    agent = principal.removeprefix("agent-") if role == permissions.AGENT_ROLE else "zulu"
    return {**SAMPLE, "agent_id": agent, "service": role}


def _produces(principal: str, step: subjects.Step) -> bool:
    if principal == ANONYMOUS and step.message not in ANONYMOUS_STEPS:
        return False
    return flow_role(principal) in step.producers


def allowed_cases() -> list[tuple[str, str]]:
    return [
        (p, subjects.fill(_template(step), **_own(p)))
        for p in PRINCIPALS
        for step in subjects.FLOW
        if _produces(p, step)
    ]


def forbidden_cases() -> list[tuple[str, str]]:
    """Another role's steps, and a principal's own steps under another's name."""
    cases = []
    for p in PRINCIPALS:
        for step in subjects.FLOW:
            template, own = _template(step), _own(p)
            if not _produces(p, step):
                cases.append((p, subjects.fill(template, **own)))
                continue
            if "{service}" in template:
                other = "voter" if own["service"] != "voter" else "gate"
                cases.append((p, subjects.fill(template, **{**own, "service": other})))
            if "{agent_id}" in template and flow_role(p) == permissions.AGENT_ROLE:
                cases.append((p, subjects.fill(template, **{**own, "agent_id": "bravo"})))
    return cases


def bucket_cases() -> list[tuple[str, str]]:
    """Writes to a bucket the principal's role does not write."""
    return [
        (p, subjects.kv_subject(bucket, "k"))
        for p in PRINCIPALS
        for bucket in BUCKET_NAMES
        if BUCKETS.get(flow_role(p) if p.startswith("agent-") else p, {}).get(bucket)
        != permissions.WRITE
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsServer, Path]]:
    running, home = authorized_server(tmp_path_factory.mktemp("authz"), AGENTS)
    try:
        yield running, home
    finally:
        running.stop()


@pytest.fixture
async def admin(server: tuple[NatsServer, Path]) -> AsyncIterator[Principal]:
    url, home = server[0].url, server[1]
    me = await Principal.connect(url, home, ADMIN)
    await ensure_topology(me.nc.jetstream(timeout=5), timeout=10)
    try:
        yield me
    finally:
        await me.close()


async def _as(server: tuple[NatsServer, Path], principal: str) -> Principal:
    return await Principal.connect(server[0].url, server[1], principal)


@pytest.mark.parametrize(("principal", "subject"), allowed_cases())
async def test_a_principal_may_publish_what_the_flow_table_has_it_produce(
    server: tuple[NatsServer, Path], admin: Principal, principal: str, subject: str
) -> None:
    me = await _as(server, principal)
    try:
        assert not await me.publish_refused(subject), me.errors
    finally:
        await me.close()


@pytest.mark.parametrize(("principal", "subject"), forbidden_cases())
async def test_a_principal_may_not_publish_another_roles_messages_or_as_another(
    server: tuple[NatsServer, Path], admin: Principal, principal: str, subject: str
) -> None:
    me = await _as(server, principal)
    try:
        assert await me.publish_refused(subject)
    finally:
        await me.close()


@pytest.mark.parametrize(("principal", "subject"), bucket_cases())
async def test_a_principal_may_not_write_a_bucket_its_role_does_not_write(
    server: tuple[NatsServer, Path], admin: Principal, principal: str, subject: str
) -> None:
    me = await _as(server, principal)
    try:
        assert await me.publish_refused(subject)
    finally:
        await me.close()


def test_the_cases_cover_every_step_for_every_principal() -> None:
    """Each (principal, step) pair is tried one way or the other."""
    tried = {(p, s) for p, s in allowed_cases() + forbidden_cases()}
    for p in PRINCIPALS:
        for step in subjects.FLOW:
            assert (p, subjects.fill(_template(step), **_own(p))) in tried
    assert ("reviewer", subjects.fill(subjects.EVENT_TALLY, task_id="t-table")) in tried
    assert ("voter", subjects.kv_subject(subjects.DELIBERATIONS_BUCKET, "k")) not in bucket_cases()
    assert ("voter", subjects.kv_subject(subjects.STATS_BUCKET, "k")) in bucket_cases()
