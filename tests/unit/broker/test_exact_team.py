"""``Policy.team`` is seated exactly, seat by seat, repeats included, or not at all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy
from services.broker.exact_team import seat_exact
from services.broker.selection import NoTeam, Selection

from ..candidates import POOL, cand

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


def test_an_exact_teams_roles_go_to_its_seats_in_order_to_agents_that_may_fill_them() -> None:
    verifier = frozenset({"verifier"})
    pool = [cand("s1", 0.9, capabilities=frozenset({"solver"})),
            cand("s2", 0.8, capabilities=frozenset({"solver", "verifier"})),
            cand("v", 0.4, capabilities=verifier)]  # fmt: skip
    roles = {"verifier": 1, "solver": 2}  # seats take them sorted by name
    result = seat_exact(pool, Policy(team=("s1", "s2", "v"), roles=roles))
    assert isinstance(result, Selection)
    assert [(s.agent_id, s.role) for s in result.seats] == [
        ("s1", "solver"), ("s2", "solver"), ("v", "verifier"),
    ]  # fmt: skip
    refused = seat_exact(pool, Policy(team=("s1", "v", "s2"), roles=roles))
    assert isinstance(refused, NoTeam)
    assert refused.reason == (
        "team agent v cannot take the role 'solver' of seat 1 (roles go to seats in order, "
        "sorted by name; its pool entry lists verifier)"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=6),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sets(st.sampled_from(["x", "y"]))),
    st.data(),
)
def test_an_exact_team_with_roles_is_seated_only_when_every_seat_may_take_its_role(
    team: list[str], abilities: dict[str, set[str]], data: st.DataObject
) -> None:
    pool = [cand(a, 0.5, capabilities=frozenset(abilities.get(a, set()))) for a in "abc"]
    cut = data.draw(st.integers(0, len(team)))
    roles = {name: n for name, n in (("x", cut), ("y", len(team) - cut)) if n}
    policy = Policy(protocol="vote", team=tuple(team), roles=roles)
    result = seat_exact(pool, policy)
    fits = all(r in abilities.get(a, set()) for a, r in zip(team, policy.seat_roles(), strict=True))
    assert isinstance(result, Selection) == fits
    if isinstance(result, Selection):
        assert [(s.agent_id, s.role) for s in result.seats] == list(
            zip(team, policy.seat_roles(), strict=True)
        )
