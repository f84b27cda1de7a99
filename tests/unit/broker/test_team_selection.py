"""Team selection on CP-SAT (§5.1): the most valuable team within every constraint — pins,
families, the budget over the planned rounds, speed, free capacity, kept seats — or the
reason there is none, the same every time; and the planned rounds and phase timeout the
selection works with."""

from __future__ import annotations

import pytest

from schemas.task import Policy
from services.broker.selection import NoTeam, Selection, planned_rounds, select_team
from services.broker.timing import phase_timeout
from services.broker.valuation import Valuation

from ..builders import card
from ..candidates import POOL, cand, chosen


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


# -- helpers around selection ----------------------------------------------------------


def test_the_plan_covers_the_expected_rounds_within_the_policy() -> None:
    assert planned_rounds(Policy(max_rounds=6), Valuation(expected_rounds=3)) == 3
    assert planned_rounds(Policy(max_rounds=2), Valuation(expected_rounds=3)) == 2
    assert planned_rounds(Policy(max_rounds=6, min_rounds=5), Valuation(expected_rounds=3)) == 5


def test_the_phase_timeout_follows_the_slowest_member_within_bounds() -> None:
    cards = [card("a", latency_p95_s=2.0), card("b", latency_p95_s=10.0)]
    assert phase_timeout(Policy(), cards, minimum=15.0, factor=4.0) == 40.0
    assert phase_timeout(Policy(), cards[:1], minimum=15.0, factor=4.0) == 15.0
    assert phase_timeout(Policy(deadline_s=30.0), cards, minimum=15.0, factor=4.0) == 30.0
    assert phase_timeout(Policy(phase_timeout_s=5.0), cards, minimum=15.0, factor=4.0) == 5.0
