"""A pool declares which roles each agent may fill; the broker binds a policy's roles only
to agents that may fill them, every role at least once."""

from __future__ import annotations

from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from services.agent_runner.config import AgentProfile, load_pool
from services.agent_runner.heartbeat import card_of
from services.broker.registry import Registry
from services.broker.selection import NoTeam, Selection, select_team
from services.broker.valuation import Candidate, Valuation, candidates

from ..builders import NOW
from ..candidates import cand

SIM_POOL = Path(__file__).resolve().parents[3] / "infra" / "agents" / "sim.toml"
TWO_ROLES = {"solver": 2, "verifier": 1}


def live_candidates(profiles: tuple[AgentProfile, ...]) -> list[Candidate]:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    for p in profiles:
        registry.put(f"{p.id}.i1", card_of(p, "i1", 0, started_at=NOW, now=NOW))
    return candidates(registry.live(), {}, "general", Valuation())


def test_the_default_pool_seats_two_solvers_and_a_verifier_each_on_an_agent_that_may() -> None:
    pool = load_pool(SIM_POOL)
    may = {p.id: set(p.fillable_roles()) for p in pool.agents}
    result = select_team(live_candidates(pool.agents), Policy(team_size=3, roles=TWO_ROLES))
    assert isinstance(result, Selection), result
    assert sorted(s.role for s in result.seats) == ["solver", "solver", "verifier"]
    assert all(s.role in may[s.agent_id] for s in result.seats)
    only_solvers = {a for a, roles in may.items() if roles == {"solver"}}
    assert only_solvers  # the pool has agents that may not verify: the binding is a choice
    assert all(s.agent_id not in only_solvers for s in result.seats if s.role == "verifier")


def test_a_role_no_agent_of_the_pool_lists_means_no_team_with_the_reason() -> None:
    pool = load_pool(SIM_POOL)
    policy = Policy(team_size=3, roles={"solver": 2, "skeptic": 1})
    result = select_team(live_candidates(pool.agents), policy)
    assert isinstance(result, NoTeam)
    assert result.reason == "5 live agents, none can take the role 'skeptic'"


def test_roles_and_the_older_capabilities_both_reach_the_card() -> None:
    raw = {"id": "a", "model": "m", "family": "f", "roles": ["solver", "verifier"],
           "capabilities": ["verifier", "skeptic"], "sim": {}}  # fmt: skip
    profile = msgspec.convert(raw, AgentProfile)
    card = card_of(profile, "i1", 0, started_at=NOW, now=NOW)
    assert card.capabilities == ("solver", "verifier", "skeptic")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sets(st.sampled_from(["solver", "verifier"])), min_size=1, max_size=7),
    st.integers(1, 3),
    st.integers(1, 2),
)
def test_every_role_is_bound_to_agents_that_may_fill_it_at_least_once_and_at_most_its_count(
    abilities: list[set[str]], solvers: int, verifiers: int
) -> None:
    pool = [cand(f"a{i}", 0.1 + i / 10, capabilities=frozenset(a)) for i, a in enumerate(abilities)]
    roles = {"solver": solvers, "verifier": verifiers}
    result = select_team(pool, Policy(team_size=solvers + verifiers, min_team=1, roles=roles))
    may = {c.agent_id: c.capabilities for c in pool}
    if not (any("solver" in a for a in abilities) and any("verifier" in a for a in abilities)):
        assert isinstance(result, NoTeam)
        assert "none can take the role" in result.reason
        return
    if isinstance(result, NoTeam):  # both roles have takers: only one agent holding both
        assert len([a for a in abilities if a]) == 1
        return
    assert all(s.role in may[s.agent_id] for s in result.seats)
    for role, count in roles.items():
        assert 1 <= sum(s.role == role for s in result.seats) <= count
