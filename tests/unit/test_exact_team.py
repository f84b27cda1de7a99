"""``Policy.team`` is seated exactly, seat by seat, repeats included, or not at all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from services.broker.exact_team import seat_exact
from services.broker.selection import NoTeam, Selection

from .test_selection import POOL, cand

NAMES = [c.agent_id for c in POOL]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*NAMES, "gone"]), min_size=2, max_size=8))
def test_a_given_team_is_seated_exactly_or_refused_naming_who_is_missing(team: list[str]) -> None:
    # Slow, busy, same-family, expensive: none of it matters to an exact team.
    pool = [*POOL, cand("slow", 0.1, latency=500.0, capacity=0, family="strong", cost=9.0)]
    result = seat_exact(pool, Policy(protocol="vote", team=tuple(team), budget_usd=0.001))
    if "gone" in team:
        assert isinstance(result, NoTeam)
        assert "team agent(s) not live: gone" in result.reason
        return
    assert isinstance(result, Selection)
    assert [(s.seat, s.agent_id, s.role) for s in result.seats] == [
        (n, a, "member") for n, a in enumerate(team)
    ]
    assert [c.agent_id for c in result.cards] == team
    assert result.status == "EXACT"
    assert result.candidates == len(pool)


def test_seats_carry_each_members_estimate_as_the_solver_would() -> None:
    result = seat_exact(POOL, Policy(team=("fair", "strong", "fair")))
    assert isinstance(result, Selection)
    assert [s.p_g for s in result.seats] == [0.5, 0.9, 0.5]
    assert result.objective == 1.9
