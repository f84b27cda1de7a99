"""Ballots weighed by their reviewer's measured edge over chance: bounded influence, the
unweighted vote among equals, and no veto for a reviewer measured at chance."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.team import Seat
from services.gate.stats import observe
from services.voter.qv import Entry, QvBallot, QvResult
from services.voter.trust import edge, trusts
from tests.unit.voter.test_qv import option_scores, rounds, run, same

from ..builders import agreeing_round, task

p_vs = st.one_of(st.none(), st.floats(0.0, 1.0))
trust = st.floats(0.0, 1.0)


@settings(max_examples=300)
@given(st.lists(p_vs, max_size=6))
def test_trust_is_the_edge_over_chance_relative_to_the_best_reviewer(
    p_v: list[float | None],
) -> None:
    t = trusts(Seat(seat=i, agent_id=f"a{i}", p_v=p) for i, p in enumerate(p_v))
    assert set(t) == set(range(len(p_v)))
    assert all(0.0 <= v <= 1.0 for v in t.values())
    edges = [edge(p) for p in p_v]
    if edges and max(edges) > 0:
        assert max(t.values()) == 1.0
        for i, j in ((i, j) for i in t for j in t):  # a better reviewer never weighs less
            if edges[i] >= edges[j]:
                assert t[i] >= t[j]
    else:
        assert all(v == 1.0 for v in t.values())  # nobody better than chance: all equal


def without(result: QvResult, seat: int) -> tuple[object, ...]:
    """Everything a tally decides, but where one seat's ballot is listed."""
    return (
        option_scores(result),
        result.scores,
        result.winner,
        result.supported,
        result.conviction,
        result.unanimous,
        tuple(s for s in result.abstained if s != seat),
        tuple(s for s in result.counted if s != seat),
    )


@settings(max_examples=300)
@given(rounds(), st.dictionaries(st.sampled_from(["p0", "p1", "p2", "x"]), st.floats(-100, 100)),
       trust)  # fmt: skip
def test_a_ballots_influence_is_bounded_by_its_trust_whatever_its_weights(
    round_: tuple[list[QvBallot], list[Entry], bool], weights: dict[str, float], t: float
) -> None:
    ballots, entries, by_answer = round_
    extra = QvBallot(99, "zz", weights, trust=t)
    before = option_scores(run(ballots, entries, by_answer))
    after = option_scores(run([*ballots, extra], entries, by_answer))
    assert all(abs(after[k] - before[k]) <= t + 1e-9 for k in before)
    if t == 0.0:  # it took part, and changed nothing
        assert without(run([*ballots, extra], entries, by_answer), 99) == without(
            run(ballots, entries, by_answer), 99
        )


@settings(max_examples=300)
@given(rounds(), st.floats(0.01, 1.0))
def test_among_reviewers_of_equal_trust_the_vote_is_unweighted_quadratic_voting(
    round_: tuple[list[QvBallot], list[Entry], bool], t: float
) -> None:
    ballots, entries, by_answer = round_
    plain = run(ballots, entries, by_answer)
    scaled = run([QvBallot(b.reviewer, b.agent, b.weights, trust=t) for b in ballots],
                 entries, by_answer)  # fmt: skip
    assert (scaled.winner, scaled.supported, scaled.unanimous) == (
        plain.winner,
        plain.supported,
        plain.unanimous,
    )
    assert (scaled.counted, scaled.abstained) == (plain.counted, plain.abstained)
    assert math.isclose(scaled.conviction, plain.conviction, abs_tol=1e-9)
    for key, score in option_scores(plain).items():
        assert math.isclose(option_scores(scaled)[key], t * score, abs_tol=1e-9)


def test_a_reviewer_measured_at_chance_cannot_veto_a_consensus() -> None:
    # every member answered 42; two honest reviewers back it, one doubts it, and one
    # votes every rival down whatever it reads
    entries = same([("a0", "42"), ("a1", "42"), ("a2", "42"), ("a3", "42")])
    others = {i: [e.proposal_id for e in entries if e.agent != f"a{i}"] for i in range(4)}
    ballots = [
        QvBallot(0, "a0", dict.fromkeys(others[0], 40.0)),
        QvBallot(1, "a1", dict.fromkeys(others[1], 25.0)),
        QvBallot(2, "a2", dict.fromkeys(others[2], -30.0)),
        QvBallot(3, "a3", dict.fromkeys(others[3], -100.0)),
    ]
    assert not run(ballots, entries).supported  # all trusted alike: 2 for, 2 against
    p_v = {0: 0.78, 1: 0.74, 2: 0.8, 3: 0.5}  # the self-promoter, as measured
    t = trusts(Seat(seat=i, agent_id=f"a{i}", p_v=p) for i, p in p_v.items())
    weighed = run(
        [QvBallot(b.reviewer, b.agent, b.weights, trust=t[b.reviewer]) for b in ballots], entries
    )
    assert weighed.supported
    assert weighed.unanimous
    assert 3 in weighed.counted  # it still took part


def test_a_ballot_that_states_no_preference_is_measured_at_chance() -> None:
    # seat 1 votes both rivals down alike: one is right (42), one wrong (7)
    rec = agreeing_round(
        ["42", "41", "7"],
        {0: {1: -40, 2: 10}, 1: {0: -100, 2: -100}, 2: {0: 60, 1: -20}},
        the_task=task(reference="42"),
    )
    assert rec.current.tally is not None
    assert 1 in rec.current.tally.abstained
    by_agent = {o.agent_id: o for o in observe(rec)}
    assert (by_agent["agent1"].ver_trial, by_agent["agent1"].ver_hit) == (1, 0.5)
