"""Reading reviews from what models actually send: fenced, wrapped in prose, cut off,
with control characters, keyed by label, with weights as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.agent_runner.backends.structured import Unparseable, parse_review, review_schema
from services.agent_runner.config import load_pool
from services.core.tokens import estimate_tokens, shorten_middle

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
    assert any("cut off" in n or "closed" in n for n in notes)


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


def test_the_schema_asks_for_exactly_one_entry_per_label() -> None:
    schema = review_schema(["Candidate_A", "Candidate_B"])
    reviews = schema["properties"]["reviews"]
    assert (reviews["minItems"], reviews["maxItems"]) == (2, 2)
    assert reviews["items"]["properties"]["label"]["enum"] == ["Candidate_A", "Candidate_B"]


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
    path = Path(__file__).resolve().parents[2] / "infra" / "agents" / f"{name}.example.toml"
    pool = load_pool(path)
    assert pool.agents
    assert all(a.backend == "openai" and a.openai is not None for a in pool.agents)
