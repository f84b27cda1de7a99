"""Team selection (pure) and the live registry's aggregation of agent cards."""

from __future__ import annotations

import msgspec
import pytest

from schemas.task import Policy
from schemas.team import AgentCard, DomainPrior
from services.broker.registry import LiveAgent, Registry
from services.broker.selection import NoTeam, Selection, phase_timeout, select_team

from .builders import NOW, card


def live(*cards: AgentCard) -> list[LiveAgent]:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    for c in cards:
        registry.put(f"{c.agent_id}.{c.instance_id}", c)
    return registry.live()


def chosen(result: Selection | NoTeam) -> list[str]:
    assert isinstance(result, Selection), result
    return [s.agent_id for s in result.seats]


POOL = live(
    card("strong", p_g=0.9),
    card("good", p_g=0.7),
    card("fair", p_g=0.5),
    card("weak", p_g=0.2),
)


def test_the_team_is_the_best_agents_up_to_team_size() -> None:
    result = select_team(POOL, Policy(team_size=3), "math")
    assert chosen(result) == ["strong", "good", "fair"]
    assert isinstance(result, Selection)
    assert [s.seat for s in result.seats] == [0, 1, 2]
    assert [c.agent_id for c in result.cards] == chosen(result)
    assert result.candidates == 4


def test_pinned_agents_come_first_even_when_weaker() -> None:
    result = select_team(POOL, Policy(team_size=3, pinned_agents=("weak",)), "math")
    assert chosen(result) == ["weak", "strong", "good"]


def test_a_pinned_agent_that_is_not_live_means_no_team() -> None:
    result = select_team(POOL, Policy(team_size=3, pinned_agents=("ghost",)), "math")
    assert isinstance(result, NoTeam)
    assert "ghost" in result.reason
    assert "4 live agents" in result.reason


def test_at_most_max_per_family_members_share_a_family() -> None:
    agents = live(
        card("q1", family="qwen", p_g=0.9),
        card("q2", family="qwen", p_g=0.8),
        card("q3", family="qwen", p_g=0.7),
        card("l1", family="llama", p_g=0.3),
        card("g1", family="gemma", p_g=0.2),
    )
    assert chosen(select_team(agents, Policy(team_size=3), "d")) == ["q1", "l1", "g1"]
    two = select_team(agents, Policy(team_size=3, max_per_family=2), "d")
    assert chosen(two) == ["q1", "q2", "l1"]


def test_too_few_eligible_agents_gives_a_readable_reason_with_the_counts() -> None:
    agents = live(card("q1", family="qwen"), card("q2", family="qwen"), card("q3", family="qwen"))
    result = select_team(agents, Policy(team_size=3, min_team=2), "d")
    assert isinstance(result, NoTeam)
    assert result.reason == (
        "3 live agents, 1 eligible with at most 1 per family; the task needs at least 2"
    )
    assert result.candidates == 3


def test_a_smaller_team_is_fine_when_it_meets_min_team() -> None:
    agents = live(card("a", p_g=0.9), card("b", p_g=0.8))
    assert chosen(select_team(agents, Policy(team_size=3, min_team=2), "d")) == ["a", "b"]


def test_no_live_agent_at_all_means_no_team() -> None:
    result = select_team([], Policy(), "d")
    assert isinstance(result, NoTeam)
    assert result.reason.startswith("0 live agents, 0 eligible")


def test_repeat_seats_fill_the_team_with_the_same_agents() -> None:
    agents = live(card("solo", p_g=0.9))
    result = select_team(agents, Policy(team_size=3, allow_repeat_seats=True), "d")
    assert chosen(result) == ["solo", "solo", "solo"]
    without = select_team(agents, Policy(team_size=3), "d")
    assert isinstance(without, NoTeam)


def test_repeat_seats_cycle_through_the_chosen_agents() -> None:
    agents = live(card("a", p_g=0.9), card("b", p_g=0.8))
    result = select_team(agents, Policy(team_size=5, allow_repeat_seats=True), "d")
    assert chosen(result) == ["a", "b", "a", "b", "a"]


def test_roles_are_assigned_to_seats_in_role_name_order() -> None:
    policy = Policy(team_size=3, roles={"member": 2, "critic": 1})
    result = select_team(POOL, policy, "d")
    assert isinstance(result, Selection)
    assert [s.role for s in result.seats] == ["critic", "member", "member"]


def test_the_domain_prior_ranks_agents_and_cost_breaks_ties() -> None:
    math_expert = card("m", p_g=0.3)
    math_expert = msgspec.structs.replace(
        math_expert, domains={**math_expert.domains, "math": DomainPrior(p_g=0.95)}
    )
    agents = live(math_expert, card("cheap", p_g=0.6), card("dear", p_g=0.6, price=10.0))
    assert chosen(select_team(agents, Policy(team_size=2, min_team=1), "math")) == ["m", "cheap"]
    assert chosen(select_team(agents, Policy(team_size=2, min_team=1), "poetry")) == [
        "cheap",
        "dear",
    ]


def test_expected_cost_counts_every_round() -> None:
    agents = live(card("a", price=1.0), card("b", family="x", price=1.0))
    one = select_team(agents, Policy(team_size=2, max_rounds=1), "d")
    six = select_team(agents, Policy(team_size=2, max_rounds=6), "d")
    assert isinstance(one, Selection)
    assert isinstance(six, Selection)
    assert one.expected_cost_usd > 0
    assert six.expected_cost_usd == pytest.approx(6 * one.expected_cost_usd)


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
