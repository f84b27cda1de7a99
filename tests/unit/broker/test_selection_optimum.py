"""Team selection on CP-SAT (§5.1) against exhaustive search: on arbitrary pools and
policies it finds the best score, breaks no constraint, and explains infeasibility."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from services.broker.selection import (
    NoTeam,
    Problem,
    Selection,
    planned_rounds,
    role_counts,
    select_team,
)
from services.broker.valuation import Candidate, Valuation

from ..candidates import cand


def exhaustive(problem: Problem) -> int | None:
    """The best score over every assignment of agents to roles (or to nothing)."""
    options = [[None, *[r for r in problem.roles if c.can_take(r)]] for c in problem.candidates]
    best: int | None = None
    for assignment in itertools.product(*options):
        seats = [(c, r) for c, r in zip(problem.candidates, assignment, strict=True) if r]
        if feasible(problem, seats):
            score = problem.score(seats)
            best = score if best is None else max(best, score)
    return best


def feasible(problem: Problem, seats: list[tuple[Candidate, str]]) -> bool:
    if not problem.min_team <= len(seats) <= problem.team_size:
        return False
    for role, count in problem.roles.items():
        if not 1 <= sum(1 for _, r in seats if r == role) <= count:
            return False
    cost = sum(problem.cost_micro(c) for c, _ in seats)
    if problem.budget_micro is not None and cost > problem.budget_micro:
        return False
    families: dict[str, int] = {}
    for c, _ in seats:
        families[c.family] = families.get(c.family, 0) + 1
    if any(n > problem.max_per_family for n in families.values()):
        return False
    return problem.pinned <= {c.agent_id for c, _ in seats}


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[Candidate], Policy]:
    n = draw(st.integers(1, 10))
    families = draw(st.integers(1, 4))
    critic = frozenset({"critic"})
    pool = [
        cand(
            f"a{i}",
            draw(st.integers(0, 100)) / 100,
            cost=draw(st.integers(0, 50)) / 10_000,
            family=f"f{draw(st.integers(0, families - 1))}",
            capabilities=critic if draw(st.booleans()) else frozenset(),
            capacity=draw(st.integers(0, 2)),
        )
        for i in range(n)
    ]
    team_size = draw(st.integers(1, 4))
    min_team = draw(st.integers(1, team_size))
    roles = None
    # Roles multiply the exhaustive search (3^n assignments): with up to 7 agents only.
    if team_size >= 2 and n <= 7 and draw(st.booleans()):
        critics = draw(st.integers(1, team_size - 1))
        roles = {"critic": critics, "member": team_size - critics}
    pinned = tuple(a.agent_id for a in pool if draw(st.integers(0, 9)) == 0)[:1]
    policy = Policy(
        team_size=team_size,
        min_team=min_team,
        max_rounds=draw(st.integers(1, 4)),
        roles=roles,
        budget_usd=draw(st.none() | st.integers(0, 60).map(lambda c: c / 1000)),
        max_per_family=draw(st.integers(1, 2)),
        pinned_agents=pinned,
    )
    return pool, policy


@given(instances())
@settings(max_examples=150, deadline=None)
def test_cp_sat_finds_the_exhaustive_optimum_and_breaks_no_constraint(
    instance: tuple[list[Candidate], Policy],
) -> None:
    pool, policy = instance
    problem = Problem(
        candidates=pool,
        roles=role_counts(policy),
        min_team=policy.min_team,
        team_size=policy.team_size,
        rounds=planned_rounds(policy, Valuation()),
        budget_micro=None if policy.budget_usd is None else math.floor(policy.budget_usd * 1e6),
        max_per_family=policy.max_per_family,
        repeat=False,
        pinned=frozenset(policy.pinned_agents),
        busy_penalty=Valuation().busy_penalty,
    )
    best = exhaustive(problem)
    result = select_team(pool, policy)
    if best is None:
        assert isinstance(result, NoTeam)
        assert result.reason
        return
    assert isinstance(result, Selection), result
    by_id = {c.agent_id: c for c in pool}
    seats = [(by_id[s.agent_id], s.role) for s in result.seats]
    assert feasible(problem, seats)
    assert result.score == best
