"""Answer extraction and comparison per answer_format, and the token estimator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.base import AnswerFormat
from services.core.answers import extract_answer, last_boxed, normalize_answer, same_answer
from services.core.tokens import TRUNCATION_MARKER, estimate_tokens, truncate_to_tokens

FORMATS: tuple[AnswerFormat, ...] = ("text", "integer", "choice", "code")


def test_boxed_content_keeps_nested_braces() -> None:
    assert last_boxed("first \\boxed{1} then \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"
    assert extract_answer("so \\boxed{\\frac{a}{b+{c}}}.", "text") == "\\frac{a}{b+{c}}"


def test_an_unclosed_box_is_no_box() -> None:
    assert last_boxed("\\boxed{12") is None
    # Cut off mid-box: "12" may have been "123", and the 7 before it was never the answer.
    assert extract_answer("The value is 7. \\boxed{12", "integer") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The sum is 5, so \\boxed{1,234.0}", "1234"),
        # No final-answer form: the last number of a text is not its answer (issue 13: a
        # model that echoed the prompt had 80 of 81 "answers" made up this way).
        ("There are 3 apples and 5 pears.", None),
        ("So the answer is 18 dollars.", "18"),
        ("The answer is: $1,234", "1234"),
        ("9 * 2 = 18\n#### 18", "18"),
        ("The answer is 5. So \\boxed{n + 1}", None),  # the box decides, and names no number
        ("We get 17.\nFinal answer: 42.", "42"),
        ("**Final answer:** $18", "18"),
        ("Final answer is = -7", "-7"),
        ("the ratio is 2.50", None),
        ("the answer is 2.50", "2.5"),
        ("no number at all", None),
    ],
)
def test_integer_answers_are_extracted_and_normalised(text: str, expected: str | None) -> None:
    assert extract_answer(text, "integer") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reasoning...\nFinal answer: \\boxed{C}", "C"),
        ("Final answer: the answer is (b).", "B"),
        ("Options (A) and (D) look close; I pick (D)", None),  # a pick, not a stated answer
        ("Final answer: (E)", "E"),
        ("I cannot decide", None),
    ],
)
def test_choice_answers_are_a_single_letter(text: str, expected: str | None) -> None:
    assert extract_answer(text, "choice") == expected


def test_code_answers_are_the_last_fenced_block() -> None:
    text = "Try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\n"
    assert extract_answer(text, "code") == "print(2)"
    assert extract_answer("just code: x = 1", "code") is None  # no block: no code answer
    assert extract_answer("Done: \\boxed{x = 1}", "code") == "x = 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thinking.\nFinal answer: \\boxed{Paris}", "Paris"),
        ("Thinking.\nFinal answer: **Paris**", "Paris"),
        ("Thinking.\n\nParis\n\n", None),  # the last line is a guess, not a stated answer
        ("   \n ", None),
        ("", None),
    ],
)
def test_text_answers_use_box_then_final_line(text: str, expected: str | None) -> None:
    assert extract_answer(text, "text") == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [("1,234.0", "1234"), ("$18", "18"), ("-0", "0"), (" 42 ", "42.00"), ("1,000,000", "1000000")],
)
def test_equal_numbers_in_any_notation_are_the_same_integer_answer(a: str, b: str) -> None:
    assert normalize_answer(a, "integer") == normalize_answer(b, "integer")
    assert same_answer(a, b, "integer")


def test_text_answers_compare_case_space_and_number_insensitively() -> None:
    assert same_answer("  New   York. ", "new york", "text")
    assert same_answer("1,234", "1234.0", "text")
    assert not same_answer("Paris", "Lyon", "text")


def test_choice_and_code_answers_compare_by_letter_and_by_lines() -> None:
    assert same_answer("b", "(B)", "choice")
    assert same_answer("x = 1   \ny = 2\n", "x = 1\ny = 2", "code")


def test_a_missing_answer_is_never_the_same_answer() -> None:
    assert not same_answer(None, None, "text")
    assert not same_answer("abc", "42", "integer")  # neither side is a number: not the same


@settings(max_examples=300)
@given(st.text(max_size=300), st.sampled_from(FORMATS))
def test_extract_answer_never_raises_on_arbitrary_text(
    text: str, answer_format: AnswerFormat
) -> None:
    answer = extract_answer(text, answer_format)
    assert answer is None or isinstance(answer, str)
    normalize_answer(answer, answer_format)


boxy = st.lists(
    st.sampled_from(
        ["\\boxed{", "{", "}", "Final answer:", "(", ")", "A", "7", ",", ".", "\n", "```"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300)
@given(boxy, st.sampled_from(FORMATS))
def test_extract_answer_never_raises_on_adversarial_markup(
    text: str, answer_format: AnswerFormat
) -> None:
    extract_answer(text, answer_format)


@settings(max_examples=300)
@given(st.text(max_size=500), st.integers(min_value=0, max_value=200))
def test_truncated_text_always_fits_its_token_budget(text: str, budget: int) -> None:
    cut = truncate_to_tokens(text, budget)
    assert estimate_tokens(cut) <= budget
    if estimate_tokens(text) <= budget:
        assert cut == text
    elif cut:
        assert cut.endswith(TRUNCATION_MARKER)
        assert text.startswith(cut.removesuffix(TRUNCATION_MARKER))


def test_the_token_estimate_is_a_quarter_of_the_characters_rounded_up() -> None:
    assert [estimate_tokens("x" * n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: C", "C"),
        ("The answer is C.", "C"),
        ("The answer is (D)", "D"),
        ("the answer is a bit unclear, maybe (B)", None),  # "maybe (B)" is not stated
        ("no letter here", None),
    ],
)
def test_choice_answers_stated_in_prose_are_read(text: str, expected: str | None) -> None:
    assert extract_answer(text, "choice") == expected


def test_numbers_in_scientific_notation_and_currency_normalise() -> None:
    assert normalize_answer("1e3", "integer") == "1000"
    assert same_answer("$18", "18", "text")


# Prose that uses no final-answer form: no box, no "answer", no "####", no code fence.
unmarked = st.text(
    alphabet=st.characters(blacklist_characters="\\#`", blacklist_categories=("Cs",)),
    max_size=300,
).filter(lambda t: "answer" not in t.lower())


@settings(max_examples=300, deadline=None)
@given(unmarked, st.sampled_from(FORMATS))
def test_a_text_that_states_no_final_answer_has_none(
    text: str, answer_format: AnswerFormat
) -> None:
    assert extract_answer(text, answer_format) is None


@settings(max_examples=300, deadline=None)
@given(unmarked, st.integers(-(10**9), 10**9), st.sampled_from(["boxed", "final", "stated"]))
def test_a_stated_final_answer_is_read_whatever_prose_precedes_it(
    text: str, n: int, form: str
) -> None:
    ending = {
        "boxed": f"\\boxed{{{n}}}",
        "final": f"Final answer: {n}",
        "stated": f"So the answer is {n}.",
    }[form]
    assert extract_answer(f"{text}\n{ending}", "integer") == str(n)
