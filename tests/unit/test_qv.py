"""The quadratic-voting tally (§5.3): budget, vote range, winner, tie-breaks, unanimity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.voter.qv import QvBallot, conviction, credit_shares, tally, unanimous, vote

PIDS = [f"p{i}" for i in range(6)]
weight = st.floats(min_value=-100, max_value=100, allow_nan=False)


@st.composite
def rounds(draw: st.DrawFn) -> tuple[list[QvBallot], list[str]]:
    proposals = PIDS[: draw(st.integers(min_value=0, max_value=len(PIDS)))]
    reviewers = draw(st.integers(min_value=0, max_value=6))
    ballots = []
    for reviewer in range(reviewers):
        covered = draw(st.lists(st.sampled_from(PIDS), unique=True, max_size=len(PIDS)))
        ballots.append(QvBallot(reviewer=reviewer, weights={p: draw(weight) for p in covered}))
    return ballots, proposals


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(PIDS), weight, min_size=1))
def test_each_reviewer_spends_exactly_its_whole_credit_budget(weights: dict[str, float]) -> None:
    shares = credit_shares(weights)
    assert shares.keys() == weights.keys()
    if sum(abs(w) for w in weights.values()) == 0:
        assert all(f == 0 for f in shares.values())
    else:
        assert math.isclose(sum(abs(f) for f in shares.values()), 1.0, rel_tol=1e-9)
        assert all(
            math.copysign(1, f) == math.copysign(1, w)
            for f, w in zip(shares.values(), weights.values(), strict=True)
            if w
        )


@settings(max_examples=200)
@given(rounds())
def test_votes_and_conviction_stay_in_their_ranges(case: tuple[list[QvBallot], list[str]]) -> None:
    ballots, proposals = case
    result = tally(ballots, proposals)
    for row in result.votes.values():
        assert set(row) <= set(proposals)
        assert all(-1.0 <= s <= 1.0 for s in row.values())
        # the squares of the votes are the credit shares: at most one budget per reviewer
        assert sum(s * s for s in row.values()) <= 1.0 + 1e-9
    assert 0.0 <= result.conviction <= 1.0


@settings(max_examples=200)
@given(rounds())
def test_winner_is_an_argmax_of_the_scores(case: tuple[list[QvBallot], list[str]]) -> None:
    ballots, proposals = case
    result = tally(ballots, proposals)
    if not proposals:
        assert result.winner is None
        return
    assert result.winner in proposals
    assert result.scores[result.winner] == max(result.scores.values())
    for pid in proposals:
        column = [row[pid] for row in result.votes.values() if pid in row]
        assert math.isclose(result.scores[pid], sum(column), abs_tol=1e-9)
        assert result.coverage[pid] == len(column)


def test_all_credit_on_one_candidate_is_a_full_vote() -> None:
    result = tally([QvBallot(reviewer=0, weights={"a": 80, "b": 0})], ["a", "b"])
    assert result.votes[0] == {"a": 1.0, "b": 0.0}
    assert vote(-1.0) == -1.0


def test_an_even_split_between_two_candidates_costs_conviction() -> None:
    result = tally([QvBallot(reviewer=0, weights={"a": 40, "b": 40})], ["a", "b"])
    assert result.votes[0]["a"] == pytest.approx(0.70710678, abs=1e-8)
    assert result.votes[0]["b"] == pytest.approx(0.70710678, abs=1e-8)


def test_a_reviewer_with_all_weights_zero_casts_no_vote() -> None:
    result = tally([QvBallot(reviewer=0, weights={"a": 0, "b": 0})], ["a", "b"])
    assert result.votes[0] == {"a": 0.0, "b": 0.0}
    assert result.conviction == 0.0


def test_a_reviewer_reputation_scales_its_votes() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"a": 100}),
        QvBallot(reviewer=1, weights={"b": 100}),
    ]
    result = tally(ballots, ["a", "b"], reputation={1: 2.0})
    assert result.scores == {"a": 1.0, "b": 2.0}
    assert result.votes[1] == {"b": 1.0}  # the vote itself is unweighted
    assert result.winner == "b"


def test_weights_on_proposals_outside_the_round_are_ignored() -> None:
    result = tally([QvBallot(reviewer=0, weights={"a": 50, "ghost": 50})], ["a"])
    assert result.votes[0] == {"a": 1.0}


def test_a_tie_on_score_goes_to_higher_net_support() -> None:
    # A(p1) = 0.5 + 0.5 over two ballots; A(p2) = 1.0 from one ballot: same score,
    # p2's net support is twice p1's, although p1 was submitted first.
    ballots = [
        QvBallot(reviewer=0, weights={"p1": 25, "p3": -75}),
        QvBallot(reviewer=1, weights={"p1": 25, "p3": -75}),
        QvBallot(reviewer=2, weights={"p2": 100}),
    ]
    result = tally(ballots, ["p1", "p2", "p3"])
    assert result.scores["p1"] == result.scores["p2"] == 1.0
    assert result.winner == "p2"


def test_a_tie_on_score_and_net_support_goes_to_lower_controversy() -> None:
    # p2: votes 1.0 and 0.0 (variance 0.25); p1: votes 0.5 and 0.5 (variance 0).
    ballots = [
        QvBallot(reviewer=0, weights={"p1": 25, "p3": -75}),
        QvBallot(reviewer=1, weights={"p1": 25, "p3": -75}),
        QvBallot(reviewer=2, weights={"p2": 100}),
        QvBallot(reviewer=3, weights={"p2": 0, "p3": 100}),
    ]
    result = tally(ballots, ["p2", "p1", "p3"])
    assert result.scores["p1"] == result.scores["p2"]
    assert result.net_support["p1"] == result.net_support["p2"]
    assert result.controversy["p1"] < result.controversy["p2"]
    assert result.winner == "p1"


@pytest.mark.parametrize(("order", "expected"), [(["a", "b"], "a"), (["b", "a"], "b")])
def test_a_full_tie_goes_to_the_earlier_submission(order: list[str], expected: str) -> None:
    result = tally([QvBallot(reviewer=0, weights={"a": 50, "b": 50})], order)
    assert result.winner == expected


def test_a_full_tie_without_any_ballot_goes_to_the_first_submission() -> None:
    result = tally([], ["z", "a"])
    assert result.winner == "z"
    assert result.conviction == 0.0


def test_conviction_is_one_when_every_positive_vote_is_on_the_winner() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"a": 90, "b": -10}),
        QvBallot(reviewer=1, weights={"a": 60, "c": -60}),
    ]
    assert tally(ballots, ["a", "b", "c"]).conviction == pytest.approx(1.0)


def test_conviction_is_zero_for_an_even_split_and_one_with_a_single_candidate() -> None:
    even = {0: {"a": 0.5, "b": 0.5}, 1: {"a": 0.5, "b": 0.5}}
    assert conviction(even, "a", 2) == pytest.approx(0.0)
    assert conviction({}, "a", 1) == 1.0
    assert conviction({0: {"a": -1.0, "b": -0.2}}, "a", 2) == 0.0
    assert conviction(even, None, 2) == 0.0


def test_ballots_are_unanimous_when_every_eligible_one_tops_the_winner() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"p1": 80, "p2": -50}),
        QvBallot(reviewer=1, weights={"p0": 30, "p2": 40}),  # cannot vote for p1: not eligible
        QvBallot(reviewer=2, weights={"p0": 10, "p1": 90}),
    ]
    result = tally(ballots, ["p0", "p1", "p2"])
    assert result.winner == "p1"
    assert result.unanimous


def test_one_eligible_ballot_is_not_unanimity() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"p1": 80}),
        QvBallot(reviewer=1, weights={"p0": 5, "p2": 20}),
    ]
    assert tally(ballots, ["p0", "p1", "p2"]).winner == "p1"
    assert not unanimous(ballots, "p1")


def test_a_ballot_topping_another_candidate_breaks_unanimity() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"p1": 80, "p2": 20}),
        QvBallot(reviewer=1, weights={"p1": 90, "p2": 10}),
        QvBallot(reviewer=2, weights={"p1": 40, "p2": 60}),
    ]
    result = tally(ballots, ["p1", "p2"])
    assert result.winner == "p1"
    assert not result.unanimous


def test_a_winner_nobody_supports_is_not_unanimous() -> None:
    ballots = [
        QvBallot(reviewer=0, weights={"p1": -10, "p2": -90}),
        QvBallot(reviewer=1, weights={"p1": -5, "p2": -95}),
    ]
    result = tally(ballots, ["p1", "p2"])
    assert result.winner == "p1"
    assert not result.unanimous
    assert not unanimous(ballots, None)
