"""Reading reviews from what models actually send: fenced, wrapped in prose, cut off,
with control characters, keyed by label, with weights as text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_cpp.llama_grammar import json_schema_to_gbnf

from services.agent_runner.backends.structured import (
    MAX_QUOTE_CHARS,
    MAX_QUOTES,
    Unparseable,
    parse_review,
    quote_options,
    review_schema,
)
from services.agent_runner.config import load_pool
from services.core.tokens import estimate_tokens, shorten_middle
from services.reviewer.validation import normalize_quote

GOOD = {"reviews": [
    {"label": "Candidate_A", "weight": 80, "justification": "ok",
     "claims": [{"quote": "x = 2", "verdict": "verified"}]},
    {"label": "Candidate_B", "weight": -40, "justification": "no", "claims": []},
]}  # fmt: skip


def labels_and_weights(text: str) -> list[tuple[str, float]]:
    entries, _ = parse_review(text)
    return [(e.label, e.weight) for e in entries]


def test_clean_json_is_read_as_is() -> None:
    entries, notes = parse_review(json.dumps(GOOD))
    assert [(e.label, e.weight) for e in entries] == [("Candidate_A", 80), ("Candidate_B", -40)]
    assert entries[0].claims[0].verdict == "verified"
    assert notes == []


def test_a_fenced_or_prose_wrapped_review_is_found() -> None:
    text = "Here is my review:\n```json\n" + json.dumps(GOOD) + "\n```\nThanks."
    assert labels_and_weights(text) == [("Candidate_A", 80), ("Candidate_B", -40)]
    assert labels_and_weights("Sure! " + json.dumps(GOOD) + " Hope it helps.")[0][1] == 80


def test_control_characters_in_strings_do_not_spoil_the_review() -> None:
    text = json.dumps(GOOD).replace('"ok"', '"o\x01k\tstill fine"')
    assert labels_and_weights(text)[0] == ("Candidate_A", 80)


def test_a_review_cut_off_by_max_tokens_keeps_its_complete_entries() -> None:
    full = json.dumps(GOOD)
    cut = full[: full.index('"Candidate_B"') + 20]  # in the middle of the second entry
    entries, notes = parse_review(cut)
    assert entries[0].label == "Candidate_A"
    assert entries[0].claims[0].quote == "x = 2"
    assert any("review JSON repaired" in n for n in notes)


def test_reviews_keyed_by_label_as_the_schema_asks_are_read() -> None:
    keyed = {"reviews": {"Candidate_A": {"weight": 70, "justification": "fine", "claims": [
        {"quote": "x", "verdict": "verified"}]}, "Candidate_B": {"weight": -5,
        "justification": "no", "claims": []}}}  # fmt: skip
    assert labels_and_weights(json.dumps(keyed)) == [("Candidate_A", 70), ("Candidate_B", -5)]


def test_reviews_keyed_by_label_and_weights_as_text_are_accepted() -> None:
    text = json.dumps({"Candidate_A": {"weight": "+75 (strong)"}, "Candidate_B": {"score": -10}})
    assert labels_and_weights(text) == [("Candidate_A", 75)]


def test_an_unknown_verdict_becomes_unverified() -> None:
    text = json.dumps({"reviews": [{"label": "Candidate_A", "weight": 1,
                                    "claims": [{"quote": "q", "verdict": "maybe"}]}]})  # fmt: skip
    entries, _ = parse_review(text)
    assert entries[0].claims[0].verdict == "unverified"


@pytest.mark.parametrize("text", ["", "I think A is better.", "[1, 2, 3]", '{"reviews": []}',
                                  '{"reviews": [{"label": "A"}]}'])  # fmt: skip
def test_output_with_no_usable_entry_is_unparseable(text: str) -> None:
    with pytest.raises(Unparseable):
        parse_review(text)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_parsing_arbitrary_text_never_raises_anything_but_unparseable(text: str) -> None:
    try:
        entries, _ = parse_review(text)
    except Unparseable:
        return
    assert all(isinstance(e.weight, float) for e in entries)


CANDIDATES = [("Candidate_A", "So 6×7 = 42.\nFinal answer: \\boxed{42}"), ("Candidate_B", "")]


def test_the_schema_asks_for_exactly_one_entry_per_label() -> None:
    reviews = review_schema(CANDIDATES)["properties"]["reviews"]
    assert list(reviews["properties"]) == reviews["required"] == ["Candidate_A", "Candidate_B"]
    assert reviews["additionalProperties"] is False


def test_the_schema_leaves_no_room_for_an_empty_justification_or_no_claim() -> None:
    entries = review_schema(CANDIDATES)["properties"]["reviews"]["properties"]
    for entry in entries.values():
        assert entry["properties"]["justification"]["minLength"] > 0
        assert entry["properties"]["claims"]["minItems"] == 1


def test_a_claim_may_quote_only_pieces_of_its_own_candidate() -> None:
    entries = review_schema(CANDIDATES)["properties"]["reviews"]["properties"]
    quote = entries["Candidate_A"]["properties"]["claims"]["items"]["properties"]["quote"]
    assert quote["enum"] == ["So 6×7 = 42.", "Final answer:", "boxed{42}"]
    # a candidate with nothing to quote leaves the quote free (validation still checks it)
    free = entries["Candidate_B"]["properties"]["claims"]["items"]["properties"]["quote"]
    assert "enum" not in free


@given(st.text(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_every_quote_option_is_a_verbatim_piece_of_its_text(text: str) -> None:
    options = quote_options(text)
    assert len(options) <= MAX_QUOTES
    assert len(set(options)) == len(options)
    for option in options:
        assert option in text
        assert normalize_quote(option) in normalize_quote(text)
        assert 2 <= len(option) <= MAX_QUOTE_CHARS


def test_a_review_wrapped_in_another_object_is_found() -> None:
    text = json.dumps({"answer": GOOD})
    assert labels_and_weights(text) == [("Candidate_A", 80), ("Candidate_B", -40)]
    prose = "The candidates {both} try: " + json.dumps(GOOD)
    assert labels_and_weights(prose)[0] == ("Candidate_A", 80)


@given(st.text(min_size=0, max_size=3000), st.integers(1, 400))
@settings(max_examples=200, deadline=None)
def test_shortening_the_middle_fits_the_budget_and_keeps_the_ending(text: str, budget: int) -> None:
    short = shorten_middle(text, budget)
    assert estimate_tokens(short) <= budget
    if short and short != text:
        tail = short.split(" […] ")[-1]
        assert text.endswith(tail)


@pytest.mark.parametrize("name", ["ollama", "vllm", "openai"])
def test_the_example_pools_load(name: str) -> None:
    path = Path(__file__).resolve().parents[3] / "infra" / "agents" / f"{name}.example.toml"
    pool = load_pool(path)
    assert pool.agents
    assert all(a.backend == "openai" and a.openai is not None for a in pool.agents)


@given(texts=st.lists(st.text(max_size=120), min_size=1, max_size=3))
@settings(max_examples=60, deadline=None)
def test_the_review_schema_of_any_candidates_is_a_grammar_llama_cpp_takes(
    texts: list[str], gbnf_parses: Callable[[str], bool]
) -> None:
    # A grammar the server cannot parse aborts it: the schema must convert for any text.
    schema = review_schema([(f"Candidate_{chr(65 + i)}", t) for i, t in enumerate(texts)])
    assert gbnf_parses(json_schema_to_gbnf(json.dumps(schema)))


def test_quote_options_never_hold_a_double_quote_or_a_backslash() -> None:
    assert quote_options('He said "six sevens" and wrote 42.') == [
        "He said",
        "six sevens",
        "and wrote 42.",
    ]
    assert quote_options("So \\frac{84}{2} = 42.\nFinal answer: \\boxed{42}") == [
        "So",
        "frac{84}{2} = 42.",
        "Final answer:",
        "boxed{42}",
    ]
