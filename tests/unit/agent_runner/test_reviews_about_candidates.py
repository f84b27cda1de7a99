"""Ballot validation (§5.2) of reviews that are not about their candidates (issue 13: a
tiny model under a JSON grammar copied the prompt's "<why>" and "<verbatim text from the
candidate>"): template or copied justifications, the same justification for different
candidates, and no claim quoting its candidate make a ballot invalid — and a valid ballot
never has any of them."""

from __future__ import annotations

import math

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.review import Claim, ReviewEntry
from services.agent_runner.prompts import review_template
from services.reviewer.validation import (
    MIN_COPIED_CHARS,
    normalize_quote,
    template_text,
    validate_ballot,
)

from ..review_packet import PACKET, entries, entry, review, validate


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
