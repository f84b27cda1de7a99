"""The proposal grammar: a server that enforces it ends every proposal with a final-answer
line that extraction reads, whatever the model writes before it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.base import AnswerFormat
from services.agent_runner.backends.grammar import (
    CHARS_PER_TOKEN_FLOOR,
    FINAL_TOKENS,
    LINE_CHARS,
    answer_grammar,
)
from services.core.answers import extract_answer


@pytest.mark.parametrize("max_tokens", [512, 48, 8])
@pytest.mark.parametrize("answer_format", ["integer", "choice", "text"])
def test_the_grammar_of_each_answer_format_is_valid_gbnf(
    answer_format: AnswerFormat, max_tokens: int, gbnf_parses: Callable[[str], bool]
) -> None:
    grammar = answer_grammar(answer_format, max_tokens)
    assert grammar is not None
    assert gbnf_parses(grammar)
    assert not gbnf_parses(grammar + ' "')  # the check bites


def test_code_answers_get_no_grammar() -> None:
    assert answer_grammar("code", 512) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 100_000))
def test_the_free_lines_leave_room_for_the_final_line(max_tokens: int) -> None:
    grammar = answer_grammar("integer", max_tokens)
    assert grammar is not None
    if "line{0," not in grammar:  # no room for free text: the final line alone
        assert max_tokens < FINAL_TOKENS + 2
        return
    lines = int(grammar.split("line{0,")[1].split("}")[0])
    width = int(grammar.split("[ -~]{0,")[1].split("}")[0])
    assert lines >= 1
    assert 1 <= width <= LINE_CHARS
    free_tokens = lines * (width + 1) / CHARS_PER_TOKEN_FLOOR
    assert free_tokens + FINAL_TOKENS <= max_tokens


free_line = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="\\#`"),
    max_size=LINE_CHARS,
).filter(lambda t: "answer" not in t.lower())
endings = {
    "integer": st.integers(-(10**11), 10**12 - 1).map(str),
    "choice": st.sampled_from("ABCDEFGHIJ"),
    "text": st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=80).filter(str.strip),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(free_line, max_size=3), st.sampled_from(sorted(endings)), st.data())
def test_what_the_grammar_admits_extracts_to_the_boxed_answer(
    lines: list[str], answer_format: AnswerFormat, data: st.DataObject
) -> None:
    answer = data.draw(endings[answer_format])
    text = "".join(f"{line}\n" for line in lines) + f"Final answer: \\boxed{{{answer}}}"
    assert extract_answer(text, answer_format) == answer.strip()
