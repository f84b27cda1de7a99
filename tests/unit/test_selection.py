"""Team selection on CP-SAT (§5.1): optimal against exhaustive search, every constraint
kept, infeasibility explained; and the live registry's aggregation of agent cards."""

from __future__ import annotations

import itertools
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from schemas.team import AgentCard
from services.broker.registry import LiveAgent, Registry
from services.broker.selection import (
    NoTeam,
    Problem,
    Selection,
    planned_rounds,
    role_counts,
    select_team,
)
from services.broker.timing import phase_timeout
from services.broker.valuation import Candidate, Valuation

from .builders import NOW, card


def cand(
    agent_id: str,
    value: float,
    *,
    cost: float = 0.0,
    family: str | None = None,
    latency: float = 1.0,
    capacity: int = 4,
    capabilities: frozenset[str] = frozenset(),
) -> Candidate:
    return Candidate(
        agent_id=agent_id,
        family=family or agent_id,
        value=value,
        round_cost_usd=cost,
        latency_p95_s=latency,
        capacity=capacity,
        capabilities=capabilities,
        card=card(agent_id),
        p_g=min(value, 1.0),
        p_v=0.7,
    )


def chosen(result: Selection | NoTeam) -> list[str]:
    assert isinstance(result, Selection), result
    return [s.agent_id for s in result.seats]


POOL = [cand("strong", 0.9), cand("good", 0.7), cand("fair", 0.5), cand("weak", 0.2)]


def test_the_team_is_the_most_valuable_agents_up_to_team_size() -> None:
    result = select_team(POOL, Policy(team_size=3))
    assert sorted(chosen(result)) == ["fair", "good", "strong"]
    assert isinstance(result, Selection)
    assert result.status == "OPTIMAL"
    assert [s.seat for s in result.seats] == [0, 1, 2]
    assert [c.agent_id for c in result.cards] == chosen(result)
    assert result.objective == pytest.approx(2.1)
    assert result.candidates == 4


def test_pinned_agents_are_in_even_when_weaker() -> None:
    result = select_team(POOL, Policy(team_size=3, pinned_agents=("weak",)))
    assert sorted(chosen(result)) == ["good", "strong", "weak"]


def test_a_pinned_agent_that_is_not_live_means_no_team() -> None:
    result = select_team(POOL, Policy(team_size=3, pinned_agents=("ghost",)))
    assert isinstance(result, NoTeam)
    assert result.reason == "pinned agent(s) not live: ghost (4 live agents)"


def test_at_most_max_per_family_members_share_a_family() -> None:
    pool = [cand("q1", 0.9, family="qwen"), cand("q2", 0.8, family="qwen"), cand("l1", 0.3)]
    assert sorted(chosen(select_team(pool, Policy(team_size=2)))) == ["l1", "q1"]
    two = Policy(team_size=2, max_per_family=2)
    assert sorted(chosen(select_team(pool, two))) == ["q1", "q2"]


def test_the_budget_trades_value_for_cost_over_the_planned_rounds() -> None:
    pool = [cand("dear", 0.9, cost=0.01), cand("mid", 0.6, cost=0.002),
            cand("cheap", 0.5, cost=0.001)]  # fmt: skip
    policy = Policy(team_size=2, budget_usd=0.01, max_rounds=3)  # plans 3 rounds
    result = select_team(pool, policy)
    assert sorted(chosen(result)) == ["cheap", "mid"]
    assert isinstance(result, Selection)
    assert result.expected_cost_usd == pytest.approx(0.009)


def test_cost_breaks_a_tie_in_value() -> None:
    pool = [cand("pricey", 0.5, cost=0.02), cand("thrifty", 0.5, cost=0.01), cand("a", 0.9)]
    assert sorted(chosen(select_team(pool, Policy(team_size=2)))) == ["a", "thrifty"]


def test_an_unaffordable_task_says_how_many_agents_fit_the_budget() -> None:
    pool = [cand(f"a{i}", 0.5, cost=0.01 * (i + 1)) for i in range(4)]
    pool.append(cand("cheap", 0.5, cost=0.0001))
    result = select_team(pool, Policy(team_size=3, budget_usd=0.001, max_rounds=1))
    assert isinstance(result, NoTeam)
    assert result.reason.startswith("5 live agents, 1 fit a budget of $0.001")
    assert "the cheapest team of 2 costs $0.0101 over 1 round(s)" in result.reason


def test_too_few_families_gives_a_readable_reason() -> None:
    pool = [cand("q1", 0.9, family="qwen"), cand("q2", 0.8, family="qwen")]
    result = select_team(pool, Policy(team_size=3, min_team=2))
    assert isinstance(result, NoTeam)
    assert result.reason == (
        "2 live agents in 1 families; with at most 1 per family 1 can sit, the task needs 2"
    )


def test_no_live_agent_at_all_means_no_team() -> None:
    result = select_team([], Policy())
    assert isinstance(result, NoTeam)
    assert result.reason == "0 live agents; the task needs at least 2"


def test_agents_too_slow_for_the_phase_timeout_are_left_out() -> None:
    pool = [cand("slow", 0.9, latency=30.0), cand("a", 0.5), cand("b", 0.4)]
    policy = Policy(team_size=3, phase_timeout_s=10.0)
    assert sorted(chosen(select_team(pool, policy, phase_timeout_s=10.0))) == ["a", "b"]
    alone = select_team(pool[:2], policy, phase_timeout_s=10.0)
    assert isinstance(alone, NoTeam)
    assert alone.reason == "2 live agents, 1 fast enough for the 10s phase timeout; " \
        "the task needs at least 2"  # fmt: skip


def test_a_busy_agent_loses_to_a_free_one_unless_clearly_better() -> None:
    # busy is worth 0.52 − 0.05 = 0.47 against b's 0.48
    close = [cand("busy", 0.52, capacity=0), cand("a", 0.5), cand("b", 0.48)]
    assert sorted(chosen(select_team(close, Policy(team_size=2)))) == ["a", "b"]
    clearly = [cand("busy", 0.9, capacity=0), cand("a", 0.5), cand("b", 0.48)]
    assert sorted(chosen(select_team(clearly, Policy(team_size=2)))) == ["a", "busy"]
    everyone_busy = [cand("x", 0.9, capacity=0), cand("y", 0.5, capacity=0)]
    assert sorted(chosen(select_team(everyone_busy, Policy(team_size=2)))) == ["x", "y"]


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


def test_repeat_seats_put_the_best_agent_in_every_seat() -> None:
    policy = Policy(team_size=3, allow_repeat_seats=True)
    assert chosen(select_team(POOL, policy)) == ["strong", "strong", "strong"]


def test_survivors_keep_their_seats_and_the_empty_seat_is_refilled() -> None:
    pool = [cand("stays", 0.3), cand("also", 0.4), cand("new", 0.8), cand("other", 0.6)]
    fixed = {"stays": (2, "member"), "also": (0, "member")}
    result = select_team(pool, Policy(team_size=3), fixed=fixed)
    assert isinstance(result, Selection)
    assert [(s.seat, s.agent_id) for s in result.seats] == [(0, "also"), (1, "new"), (2, "stays")]


def test_selection_is_deterministic() -> None:
    pool = [cand(f"a{i}", 0.5) for i in range(12)]  # all tied: the order decides
    first = select_team(pool, Policy(team_size=3))
    assert all(chosen(select_team(pool, Policy(team_size=3))) == chosen(first) for _ in range(5))


def test_seats_carry_each_members_estimated_precisions() -> None:
    result = select_team(POOL, Policy(team_size=2))
    assert isinstance(result, Selection)
    assert {(s.agent_id, s.p_g, s.p_v) for s in result.seats} == {
        ("strong", 0.9, 0.7), ("good", 0.7, 0.7),
    }  # fmt: skip


# -- optimality against exhaustive search ----------------------------------------------


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


# -- helpers around selection ----------------------------------------------------------


def test_the_plan_covers_the_expected_rounds_within_the_policy() -> None:
    assert planned_rounds(Policy(max_rounds=6), Valuation(expected_rounds=3)) == 3
    assert planned_rounds(Policy(max_rounds=2), Valuation(expected_rounds=3)) == 2
    assert planned_rounds(Policy(max_rounds=6, min_rounds=5), Valuation(expected_rounds=3)) == 5


def live(*cards: AgentCard) -> list[LiveAgent]:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    for c in cards:
        registry.put(f"{c.agent_id}.{c.instance_id}", c)
    return registry.live()


def test_the_phase_timeout_follows_the_slowest_member_within_bounds() -> None:
    cards = [card("a", latency_p95_s=2.0), card("b", latency_p95_s=10.0)]
    assert phase_timeout(Policy(), cards, minimum=15.0, factor=4.0) == 40.0
    assert phase_timeout(Policy(), cards[:1], minimum=15.0, factor=4.0) == 15.0
    assert phase_timeout(Policy(deadline_s=30.0), cards, minimum=15.0, factor=4.0) == 30.0
    assert phase_timeout(Policy(phase_timeout_s=5.0), cards, minimum=15.0, factor=4.0) == 5.0


def test_the_registry_sums_the_free_capacity_of_live_instances() -> None:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    registry.put(
        "a.i1", card("a", instance="i1", max_concurrency=4, in_flight=1, updated_at=NOW - 1)
    )
    registry.put("a.i2", card("a", instance="i2", max_concurrency=2, in_flight=3, updated_at=NOW))
    registry.put("a.i3", card("a", instance="i3", max_concurrency=8, updated_at=NOW - 60))  # stale
    registry.put("a.i4", card("a", instance="i4", max_concurrency=8, draining=True))
    [agent] = registry.live()
    assert (agent.instances, agent.capacity, agent.in_flight) == (2, 3, 4)
    assert agent.card.instance_id == "i2"  # the freshest card speaks for the agent


def test_the_registry_applies_puts_deletes_and_ignores_bad_cards() -> None:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    registry.apply("a.i1", msgspec.json.encode(card("a")), "PUT")
    registry.apply("b.i1", msgspec.json.encode(card("b")), None)
    registry.apply("c.i1", b"{not json", "PUT")
    assert [a.agent_id for a in registry.live()] == ["a", "b"]
    registry.apply("a.i1", None, "DEL")
    registry.apply("b.i1", b"", "PURGE")
    assert registry.live() == []


def test_a_card_goes_stale_when_the_clock_moves_past_its_refresh() -> None:
    now = [NOW]
    registry = Registry(stale_after_s=10.0, clock=lambda: now[0])
    registry.put("a.i1", card("a", updated_at=NOW))
    assert len(registry.live()) == 1
    now[0] = NOW + 10.5
    assert registry.live() == []
