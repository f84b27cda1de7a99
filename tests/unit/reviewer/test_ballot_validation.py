"""Ballot validation (§5.2): clamping, labels, missing entries, quote grounding,
justifications as critiques, invalid and absent ballots — and arbitrary reviews always
validate into bounded ballots."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.review import ReviewEntry
from services.reviewer.validation import absent_ballot, normalize_quote, validate_ballot

from ..review_packet import PACKET, entries, entry, review, validate


def test_weights_outside_the_range_are_clamped() -> None:
    ballot = validate(review(entry("Candidate_A", 250.0), entry("Candidate_B", -1e12)))
    assert ballot.valid
    assert ballot.weights == {"p1": 100.0, "p2": -100.0}


def test_weights_are_keyed_by_the_real_proposal_id() -> None:
    ballot = validate(review(entry("Candidate_B", 12.5)))
    assert ballot.weights == {"p1": 0.0, "p2": 12.5}
    assert ballot.message_id == "t1:1:ballot:0"
    assert (ballot.seat, ballot.agent_id, ballot.round) == (0, "agent0", 1)


def test_unknown_labels_are_dropped_and_counted() -> None:
    ballot = validate(review(entry("Candidate_Z", 90.0), entry("Candidate_A", 10.0)))
    assert ballot.valid
    assert ballot.weights == {"p1": 10.0, "p2": 0.0}
    assert ballot.dropped_entries == 1
    assert any("Candidate_Z" in note for note in ballot.notes)


def test_a_duplicate_label_keeps_the_first_entry() -> None:
    ballot = validate(review(entry("Candidate_A", 70.0), entry("Candidate_A", -70.0)))
    assert ballot.weights["p1"] == 70.0
    assert ballot.dropped_entries == 1
    assert any("duplicate" in note for note in ballot.notes)


def test_a_label_the_review_left_out_counts_as_zero() -> None:
    ballot = validate(review(entry("Candidate_A", -40.0)))
    assert ballot.weights == {"p1": -40.0, "p2": 0.0}


def test_a_non_finite_weight_drops_its_entry() -> None:
    ballot = validate(review(entry("Candidate_A", math.nan), entry("Candidate_B", math.inf)))
    assert not ballot.valid
    assert ballot.weights == {}
    assert ballot.dropped_entries == 2


def test_a_quote_is_grounded_despite_whitespace_and_typographic_quotes() -> None:
    ballot = validate(
        review(entry("Candidate_A", 80.0, 'the "product" is 42.', "Final answer: \\boxed{42}"))
    )
    assert ballot.valid
    assert [c.quote for c in ballot.claims] == ['the "product" is 42.', "Final answer: \\boxed{42}"]
    assert all(c.proposal_id == "p1" for c in ballot.claims)
    assert ballot.ungrounded_quotes == 0


def test_a_quote_that_is_not_in_the_candidate_is_dropped_and_counted() -> None:
    ballot = validate(
        review(
            entry("Candidate_A", 80.0, "the product is 43", ""),
            # a real quote, but from the other candidate: not grounded in this one
            entry("Candidate_B", -80.0, "Final answer: \\boxed{42}", "6×7 = 41"),
        )
    )
    assert [(c.proposal_id, c.quote) for c in ballot.claims] == [("p2", "6×7 = 41")]
    assert ballot.ungrounded_quotes == 3
    assert ballot.valid  # ungrounded quotes cost the claim, not the weight
    assert any("3 claim(s)" in note for note in ballot.notes)


def test_quote_normalisation_folds_quote_marks_and_runs_of_whitespace() -> None:
    assert normalize_quote("  it’s  «fine»\n\t`ok`  ") == "it's \"fine\" 'ok'"


def test_justifications_become_critiques_with_the_entry_weight() -> None:
    ballot = validate(review(entry("Candidate_B", -60.0, why="  6×7 is 42, not 41.  ")))
    assert [(c.proposal_id, c.weight, c.text) for c in ballot.critiques] == [
        ("p2", -60.0, "6×7 is 42, not 41.")
    ]


def test_a_ballot_with_no_valid_entry_is_invalid() -> None:
    ballot = validate(review(entry("Candidate_Q", 50.0)))
    assert not ballot.valid
    assert ballot.weights == {}
    assert "no valid entry" in ballot.notes
    assert not validate(review()).valid


def test_an_error_review_is_an_invalid_ballot_with_the_reason() -> None:
    ballot = validate(review(entry("Candidate_A", 50.0), status="error", error="HTTP 500"))
    assert not ballot.valid
    assert ballot.weights == {}
    assert ballot.notes == ("review error: HTTP 500",)


def test_an_absent_ballot_is_invalid_and_says_why() -> None:
    ballot = absent_ballot("t1", 2, 3, "agent3", "review timed out", "t1:2:ballot:3")
    assert not ballot.valid
    assert ballot.notes == ("review timed out",)
    assert (ballot.round, ballot.seat, ballot.message_id) == (2, 3, "t1:2:ballot:3")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(entries, max_size=8).map(tuple),
    st.sampled_from(["ok", "ok", "skip", "error"]),
    st.dictionaries(st.sampled_from(["p1", "p2"]), st.text(max_size=60)),
)
def test_arbitrary_reviews_validate_into_bounded_ballots(
    review_entries: tuple[ReviewEntry, ...], status: str, shown: dict[str, str]
) -> None:
    msg = review(*review_entries, status=status)
    ballot = validate_ballot(msg, PACKET, shown, message_id="m")
    assert all(-100.0 <= w <= 100.0 for w in ballot.weights.values())
    assert ballot.valid == (bool(ballot.weights) and status == "ok")
    if ballot.valid:
        assert set(ballot.weights) == set(PACKET.values())
    assert all(c.proposal_id in PACKET.values() for c in ballot.claims)
    assert all(-100.0 <= c.weight <= 100.0 for c in ballot.critiques)
    if status != "ok":
        return
    counted = {e.label for e in review_entries if e.label in PACKET and math.isfinite(e.weight)}
    assert ballot.dropped_entries == len(review_entries) - len(counted)
    for label, pid in PACKET.items():
        first = next(
            (e for e in review_entries if e.label == label and math.isfinite(e.weight)), None
        )
        if ballot.valid:
            expected = 0.0 if first is None else max(-100.0, min(100.0, first.weight))
            assert ballot.weights[pid] == expected
