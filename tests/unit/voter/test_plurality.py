"""The plurality tally of the protocols without review (vote, moa, debate): counted by answer
over the same options as the quadratic vote, ties broken by the seeded hash."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from services.voter.qv import Entry, QvResult, plurality

ANSWERS = ["42", "41", "7", "9"]


@st.composite
def rounds(draw: st.DrawFn) -> list[Entry]:
    """Ok proposals by answer (``by_answer``) or each its own option (free text)."""
    by_answer = draw(st.booleans())
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=9))):
        answer = draw(st.sampled_from(ANSWERS))
        key = f"answer:{answer}" if by_answer else f"proposal:p{i}"
        out.append(Entry(f"p{i}", f"a{draw(st.integers(0, 3))}", key, answer))
    return out


def run(entries: list[Entry], seed: str = "task:1") -> QvResult:
    return plurality(entries, seed=seed)


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_the_winner_is_in_a_largest_option_and_the_numbers_say_so(entries: list[Entry]) -> None:
    result = run(entries)
    counts = Counter(e.key for e in entries)
    assert {o.key: o.score for o in result.options} == {k: float(n) for k, n in counts.items()}
    assert sum(o.score for o in result.options) == len(entries)
    assert result.supported == bool(entries)
    if not entries:
        assert (result.winner, result.conviction, result.unanimous) == (None, 0.0, False)
        return
    by_id = {e.proposal_id: e for e in entries}
    assert result.winner in by_id
    top = max(counts.values())
    assert counts[by_id[result.winner].key] == top
    assert result.winner_key == by_id[result.winner].key
    assert result.conviction == top / len(entries)
    assert 0.0 < result.conviction <= 1.0
    assert result.unanimous == (len(counts) == 1 and len(entries) >= 2)
    # every proposal's score is the number of proposals that agree with it
    assert all(result.scores[e.proposal_id] == counts[e.key] for e in entries)
    assert result.counted == ()
    assert result.votes == {}


@settings(max_examples=200, deadline=None)
@given(rounds(), st.randoms(use_true_random=False))
def test_the_plurality_depends_on_no_arrival_order(
    entries: list[Entry], rng: random.Random
) -> None:
    shuffled = list(entries)
    rng.shuffle(shuffled)
    first, second = run(entries), run(shuffled)
    assert (first.winner, first.winner_key, first.conviction, first.unanimous) == (
        second.winner,
        second.winner_key,
        second.conviction,
        second.unanimous,
    )


def test_a_tie_is_broken_by_the_seed_not_by_who_came_first() -> None:
    entries = [
        Entry("p0", "a0", "answer:1", "1"),
        Entry("p1", "a1", "answer:2", "2"),
        Entry("p2", "a2", "answer:3", "3"),
    ]
    winners = {run(entries, seed=f"task-{n}:1").winner for n in range(40)}
    assert winners == {"p0", "p1", "p2"}  # every option wins under some seed
    assert run(entries, seed="x:1").winner == run(entries[::-1], seed="x:1").winner


def test_two_agreeing_proposals_outvote_one_and_two_of_three_is_the_conviction() -> None:
    entries = [
        Entry("p0", "a0", "answer:42", "42"),
        Entry("p1", "a0", "answer:41", "41"),
        Entry("p2", "a1", "answer:42", "42"),
    ]
    result = run(entries)
    assert result.winner in ("p0", "p2")
    assert result.conviction == 2 / 3
    assert not result.unanimous
    assert run(entries[:1]).unanimous is False  # one proposal is no agreement
    assert run([entries[0], entries[2]]).unanimous
