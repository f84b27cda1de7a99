"""Roles in team selection (§5.1): a policy's roles are bound only to agents able to take
them, and a role nobody can take means no team, never a smaller one without it."""

from __future__ import annotations

from schemas.task import Policy
from services.broker.selection import NoTeam, Selection, select_team

from ..candidates import POOL, cand


def test_roles_are_filled_only_by_agents_able_to_take_them() -> None:
    critic = frozenset({"critic"})
    pool = [cand("solver1", 0.9), cand("solver2", 0.8), cand("judge", 0.3, capabilities=critic),
            cand("solver3", 0.7)]  # fmt: skip
    # "member" is open to anyone; any other role needs the capability of that name.
    policy = Policy(team_size=3, roles={"critic": 1, "member": 2})
    result = select_team(pool, policy)
    assert isinstance(result, Selection)
    roles = {s.agent_id: s.role for s in result.seats}
    assert roles == {"judge": "critic", "solver1": "member", "solver2": "member"}
    assert [s.role for s in result.seats] == ["critic", "member", "member"]


def test_a_role_nobody_can_take_is_explained() -> None:
    result = select_team(POOL, Policy(team_size=2, min_team=2, roles={"critic": 2}))
    assert isinstance(result, NoTeam)
    assert result.reason == "4 live agents, none can take the role 'critic'"


def test_a_role_nobody_can_take_is_not_dropped_to_seat_a_smaller_team() -> None:
    # min_team 2 leaves room for two solvers alone; the verifier the policy asks for must
    # still sit, or the task has no team.
    solver = frozenset({"solver"})
    pool = [cand("a", 0.9, capabilities=solver), cand("b", 0.8, capabilities=solver),
            cand("c", 0.7, capabilities=solver)]  # fmt: skip
    policy = Policy(team_size=3, min_team=2, roles={"solver": 2, "verifier": 1})
    result = select_team(pool, policy)
    assert isinstance(result, NoTeam)
    assert result.reason == "3 live agents, none can take the role 'verifier'"


def test_the_only_agent_able_to_take_a_role_sits_even_when_busy_and_weak() -> None:
    # Busy, v is worth less than nothing (0.01 − the 0.05 busy penalty): value alone would
    # leave the verifier's seat empty.
    solver = frozenset({"solver"})
    pool = [cand("s1", 0.9, capabilities=solver), cand("s2", 0.8, capabilities=solver),
            cand("v", 0.01, capacity=0, capabilities=frozenset({"verifier"}))]  # fmt: skip
    policy = Policy(team_size=3, min_team=2, roles={"solver": 2, "verifier": 1})
    result = select_team(pool, policy)
    assert isinstance(result, Selection)
    assert [(s.agent_id, s.role) for s in result.seats] == [
        ("s1", "solver"), ("s2", "solver"), ("v", "verifier"),
    ]  # fmt: skip
