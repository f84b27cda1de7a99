"""Ballot validation (§5.2): clamping, labels, missing entries, quote grounding, invalid
ballots, reviews that are template text — and arbitrary reviews never break it."""

from __future__ import annotations

import math

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ballot import BallotAccepted
from schemas.propose import CallStatus
from schemas.review import Claim, ReviewEntry, ReviewSubmitted
from services.agent_runner.prompts import review_template
from services.reviewer.validation import (
    MIN_COPIED_CHARS,
    absent_ballot,
    normalize_quote,
    template_text,
    validate_ballot,
)

PACKET = {"Candidate_A": "p1", "Candidate_B": "p2"}
SHOWN = {
    "p1": "Step one: the “product” is 42.\n\n   Final    answer: \\boxed{42}",
    "p2": "I think it's 41, since 6×7 = 41.\nFinal answer: \\boxed{41}",
}


def review(
    *entries: ReviewEntry, status: CallStatus = "ok", error: str | None = None
) -> ReviewSubmitted:
    return ReviewSubmitted(
        task_id="t1",
        round=1,
        message_id="t1:1:review:0",
        seat=0,
        agent_id="agent0",
        entries=entries,
        status=status,
        error=error,
    )


# A line each candidate really says: the claim a genuine review of it can quote.
GROUNDED = {"Candidate_A": "the “product” is 42.", "Candidate_B": "6×7 = 41"}


def entry(label: str, weight: float, *quotes: str, why: str | None = None) -> ReviewEntry:
    """A review entry that reads as a review: its own justification, and (unless ``quotes``
    are given) a quote of its candidate."""
    return ReviewEntry(
        label=label,
        weight=weight,
        justification=f"{label} is judged on its own steps" if why is None else why,
        claims=tuple(
            Claim(quote=q, verdict="verified")
            for q in (quotes or (GROUNDED.get(label, "not in any candidate"),))
        ),
    )


def validate(msg: ReviewSubmitted) -> BallotAccepted:
    return validate_ballot(msg, PACKET, SHOWN, message_id="t1:1:ballot:0")


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


labels = st.sampled_from([*PACKET, "Candidate_C", "", "candidate_a"]) | st.text(max_size=12)
weights = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, -0.0])
claims = st.builds(
    Claim,
    quote=st.text(max_size=40) | st.sampled_from(["42", "“product”", "Final answer:"]),
    verdict=st.sampled_from(["verified", "contested", "unverified", "wrong"]),
)
entries = st.builds(
    ReviewEntry,
    label=labels,
    weight=weights,
    justification=st.text(max_size=40),
    claims=st.lists(claims, max_size=3).map(tuple),
)


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


# --- reviews that are not about their candidates (issue 13: a tiny model under a JSON
# grammar copied the prompt's "<why>" and "<verbatim text from the candidate>") ---


def test_a_review_that_copies_the_prompts_placeholders_is_invalid_and_says_why() -> None:
    copied = review(
        entry("Candidate_A", 50.0, "<verbatim text from the candidate>", why="<why>"),
        entry("Candidate_B", 50.0, "<verbatim text from the candidate>", why="<why>"),
    )
    ballot = validate(copied)
    assert not ballot.valid
    assert ballot.weights == {}
    assert "justification for Candidate_A is template text: a placeholder ('<why>')" in (
        ballot.notes
    )
    assert "no claim quotes its candidate" in ballot.notes
    assert ballot.ungrounded_quotes == 2


def test_a_justification_copied_from_the_prompt_is_template_text() -> None:
    for why in ("sound with minor issues", "Trust your own solution", "why that candidate earns"):
        ballot = validate(review(entry("Candidate_A", 60.0, why=why), entry("Candidate_B", 5.0)))
        assert not ballot.valid
        assert any("Candidate_A is template text: copied" in n for n in ballot.notes)


def test_an_empty_justification_is_template_text() -> None:
    ballot = validate(review(entry("Candidate_A", 60.0, why="  "), entry("Candidate_B", -5.0)))
    assert not ballot.valid
    assert "justification for Candidate_A is template text: empty" in ballot.notes


def test_short_words_that_the_prompt_also_uses_are_not_copying() -> None:
    for why in ("wrong", "Verified.", "contested"):
        assert template_text(why) is None
    terse = entry("Candidate_A", 60.0, why="Verified.")
    ballot = validate(review(terse, entry("Candidate_B", 5.0)))
    assert ballot.valid


def test_the_same_justification_for_different_candidates_is_invalid() -> None:
    same = review(entry("Candidate_A", 60.0, why="Looks fine."), entry("Candidate_B", -5.0,
                  why="Looks fine."))  # fmt: skip
    ballot = validate(same)
    assert not ballot.valid
    assert "the same justification for every candidate" in ballot.notes


def test_the_same_justification_for_identical_candidates_is_allowed() -> None:
    shown = {"p1": "Final answer: \\boxed{42}", "p2": "Final  answer: \\boxed{42}"}
    twins = review(
        entry("Candidate_A", 60.0, "\\boxed{42}", why="Six sevens are 42."),
        entry("Candidate_B", 60.0, "\\boxed{42}", why="Six sevens are 42."),
    )
    assert validate_ballot(twins, PACKET, shown, message_id="m").valid


def test_a_review_without_any_grounded_claim_is_invalid() -> None:
    for quotes in (("6 x 7 is 42",), ()):
        entries = [
            ReviewEntry(label=label, weight=10.0, justification=f"{label} says so",
                        claims=tuple(Claim(quote=q) for q in quotes))
            for label in PACKET
        ]  # fmt: skip
        ballot = validate(review(*entries))
        assert not ballot.valid
        assert "no claim quotes its candidate" in ballot.notes


def test_one_grounded_claim_is_enough() -> None:
    ballot = validate(
        review(entry("Candidate_A", 60.0, "made up"), entry("Candidate_B", -60.0, "6×7 = 41"))
    )
    assert ballot.valid
    assert ballot.ungrounded_quotes == 1


template_texts = st.one_of(
    st.sampled_from(["", "   ", "<why>", "<verbatim text from the candidate>", "[reason]", "-"]),
    st.tuples(st.integers(0, len(review_template()) - 60), st.integers(MIN_COPIED_CHARS, 60)).map(
        lambda span: review_template()[span[0] : span[0] + span[1]]
    ),
)
justifications = st.text(alphabet="abcdefghij 0123456789=+", min_size=1, max_size=30)


def genuine(why_a: str, why_b: str) -> tuple[ReviewEntry, ReviewEntry]:
    return entry("Candidate_A", 40.0, why=f"A: {why_a}"), entry("Candidate_B", -40.0,
                                                                 why=f"B: {why_b}")  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(justifications, justifications, template_texts, st.sampled_from([0, 1]))
def test_any_template_justification_makes_a_genuine_review_invalid(
    why_a: str, why_b: str, template: str, which: int
) -> None:
    entries = list(genuine(why_a, why_b))
    assert validate(review(*entries)).valid
    if template_text(template) is None:  # a slice of the prompt that folds below the bound
        return
    entries[which] = msgspec.structs.replace(entries[which], justification=template)
    ballot = validate(review(*entries))
    assert not ballot.valid
    assert any(f"justification for {entries[which].label} is template" in n for n in ballot.notes)


@settings(max_examples=200, deadline=None)
@given(justifications, justifications, st.lists(st.text(max_size=20), max_size=3))
def test_a_genuine_review_with_only_ungrounded_quotes_is_invalid(
    why_a: str, why_b: str, quotes: list[str]
) -> None:
    shown = {"p1": "alpha beta", "p2": "gamma delta"}
    ungrounded = tuple(Claim(quote=f"{q}§") for q in quotes)  # "§" is in neither candidate
    entries = [msgspec.structs.replace(e, claims=ungrounded) for e in genuine(why_a, why_b)]
    ballot = validate_ballot(review(*entries), PACKET, shown, message_id="m")
    assert not ballot.valid
    assert "no claim quotes its candidate" in ballot.notes


@settings(max_examples=300, deadline=None)
@given(
    st.lists(entries, max_size=8).map(tuple),
    st.dictionaries(st.sampled_from(["p1", "p2"]), st.text(max_size=60)),
)
def test_a_valid_ballot_has_a_grounded_claim_and_no_template_justification(
    review_entries: tuple[ReviewEntry, ...], shown: dict[str, str]
) -> None:
    ballot = validate_ballot(review(*review_entries), PACKET, shown, message_id="m")
    if not ballot.valid:
        assert ballot.notes
        return
    assert ballot.claims
    for claim in ballot.claims:
        assert normalize_quote(claim.quote) in normalize_quote(shown[claim.proposal_id])
    counted: dict[str, ReviewEntry] = {}
    for e in review_entries:
        if e.label in PACKET and math.isfinite(e.weight):
            counted.setdefault(e.label, e)
    assert all(template_text(e.justification) is None for e in counted.values())
