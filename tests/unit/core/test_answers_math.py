"""Answers written as math, read with math-verify (issue 11, defect 5): exact values in the
integer format, option letters that are not prose, math equivalence in the text format, and
the guards around the parser (threads, size, lazy import)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.base import AnswerFormat
from services.core.answers import extract_answer, last_boxed, normalize_answer, same_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So \\boxed{\\frac{3}{4}}", "0.75"),
        ("So \\boxed{-\\frac12}", "-0.5"),
        ("So \\boxed{2^{10}}", "1024"),
        ("So \\boxed{1{,}000}", "1000"),
        ("So \\boxed{\u22127}", "-7"),
        ("So \\boxed{1\\,000}", "1000"),
        ("So \\boxed{\\$1{,}000{,}000}", "1000000"),
        ("So \\boxed{18\\text{ cm}}", "18"),
        ("So \\boxed{\\dfrac{6}{2}}", "3"),
        ("So \\boxed{x = 5}", "5"),
        ("So \\boxed{\\sqrt{16}}", "4"),
        ("So \\boxed{\\frac{1}{3}}", "1/3"),
        ("So \\boxed{n + 1}", None),  # unknowns: no number was stated
        ("Final answer: 1\\!234 apples", "1234"),
    ],
)
def test_integer_answers_written_as_math_are_read_as_their_value(
    text: str, expected: str | None
) -> None:
    assert extract_answer(text, "integer") == expected


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("So \\boxed{\\frac{3}{4}}", "3"),
        ("So \\boxed{\\frac{3}{4}}", "0"),
        ("So \\boxed{-\\frac12}", "1"),
        ("So \\boxed{-\\frac12}", "0"),
        ("Final answer: 7.5", "7"),
        ("So \\boxed{2^{10}}", "2"),
        ("So \\boxed{1{,}000}", "1"),
        ("So \\boxed{\u22127}", "7"),
    ],
)
def test_a_misread_or_non_integer_answer_is_not_right_for_an_integer_task(
    text: str, reference: str
) -> None:
    assert not same_answer(extract_answer(text, "integer"), reference, "integer")


@pytest.mark.parametrize("n", [2**53 + 1, 2**60 + 1, 10**30 + 7, -(2**64) - 1])
def test_integers_past_float_precision_stay_exact(n: int) -> None:
    assert extract_answer(f"Final answer: \\boxed{{{n}}}", "integer") == str(n)
    assert extract_answer(f"Final answer: {n:,}", "integer") == str(n)
    assert not same_answer(str(n), str(n - 1), "integer")
    assert extract_answer("So \\boxed{2^{60}}", "integer") == str(2**60)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{9^{9^{9}}}",
        "\\boxed{100000!}",
        "\\boxed{(10^{1000})^{1000}}",
        "\\boxed{\\prod_{k=1}^{10^{9}} k}",
    ],
)
def test_an_astronomically_large_answer_is_kept_unevaluated(text: str) -> None:
    answer = extract_answer(text, "integer")
    assert answer is not None
    assert not answer.lstrip("-").isdigit()
    assert not same_answer(answer, "9", "integer")
    assert not same_answer(last_boxed(text), last_boxed(text) + "+1", "text")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final answer: I think it is C", "C"),
        ("Final answer: I think C", "C"),
        ("Final answer: A", "A"),
        ("Final answer: A.", "A"),
        ("Final answer: \\boxed{A}", "A"),
        ("\\boxed{\\text{(B)}}", "B"),
        ("Final answer: (I)", "I"),
        ("The answer is A because it fits.", "A"),
        ("A first guess was wrong. The answer is: J", "J"),
        ("I believe it. A good question.", None),
    ],
)
def test_the_pronoun_i_and_the_article_a_are_not_option_letters(
    text: str, expected: str | None
) -> None:
    assert extract_answer(text, "choice") == expected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("\\frac{1}{2}", "0.5", True),
        ("2^{10}", "1024", True),
        ("x + 1", "1 + x", True),
        ("\\sqrt{8}", "2\\sqrt{2}", True),
        ("\\frac{1}{2}", "0.51", False),
        ("Paris", "sirap", False),  # both parse as a product of five unknowns
    ],
)
def test_text_answers_that_are_math_compare_by_value(a: str, b: str, same: bool) -> None:
    assert same_answer(a, b, "text") is same
    assert same_answer(b, a, "text") is same


def test_answers_are_read_off_the_main_thread() -> None:
    # math-verify's default timeout uses signal.alarm, which raises in any other thread;
    # fresh inputs so that no cached parse hides the call.
    texts = [f"\\boxed{{\\frac{{{2 * k + 1}}}{{2}}}}" for k in range(7001, 7009)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda t: extract_answer(t, "integer"), texts))
        same = list(pool.map(lambda a: same_answer(a, "\\frac{14003}{2}", "text"), answers))
    assert answers == [f"{k}.5" for k in range(7001, 7009)]
    assert same == [True] + [False] * 7


def test_plain_numbers_and_letters_never_import_sympy() -> None:
    code = (
        "import sys\n"
        "from services.core.answers import extract_answer, same_answer\n"
        "assert extract_answer('Final answer: \\\\boxed{391}', 'integer') == '391'\n"
        "assert same_answer('1,234', '1234', 'integer')\n"
        "assert extract_answer('Final answer: \\\\boxed{C}', 'choice') == 'C'\n"
        "assert same_answer('answer-3f2', 'Answer-3F2', 'text')\n"
        "assert 'sympy' not in sys.modules, 'sympy was imported'\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _render(n: int, style: str) -> str:
    sign = "\u2212" if n < 0 else ""
    return {
        "boxed": f"Thus \\boxed{{{n}}}.",
        "commas": f"Final answer: {n:,}",
        "latex commas": f"\\boxed{{{n:,}}}".replace(",", "{,}"),
        "thin spaces": f"\\boxed{{{n:,}}}".replace(",", "\\,"),
        "fraction": f"\\boxed{{\\frac{{{2 * n}}}{{2}}}}",
        "unicode minus": f"Final answer: ${sign}{abs(n)}$",
    }[style]


STYLES = ["boxed", "commas", "latex commas", "thin spaces", "fraction", "unicode minus"]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(10**40), max_value=10**40), st.sampled_from(STYLES))
def test_any_integer_in_any_notation_extracts_to_its_exact_decimal(n: int, style: str) -> None:
    assert extract_answer(_render(n, style), "integer") == str(n)


math_answers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.tuples(st.integers(-50, 50), st.integers(1, 12)).map(
        lambda f: f"\\frac{{{f[0]}}}{{{f[1]}}}"
    ),
    st.tuples(st.integers(-9, 9), st.integers(0, 12)).map(lambda p: f"{p[0]}^{{{p[1]}}}"),
    st.integers(0, 99).map(lambda k: f"\\sqrt{{{k}}}"),
    st.decimals(-1000, 1000, places=3, allow_nan=False).map(str),
    st.sampled_from(["x + 1", "1 + x", "\\pi", "Paris", "n^{2}", "9^{9^{9}}"]),
)
wrapped = st.tuples(math_answers, st.sampled_from(["\\boxed{{{}}}", "Final answer: {}"])).map(
    lambda pair: pair[1].format(pair[0])
)


@settings(max_examples=300, deadline=None)
@given(wrapped, wrapped, st.sampled_from(["integer", "text"]))
def test_same_answer_is_reflexive_and_symmetric_on_extracted_answers(
    first: str, second: str, answer_format: AnswerFormat
) -> None:
    a, b = extract_answer(first, answer_format), extract_answer(second, answer_format)
    if a is not None:
        assert same_answer(a, a, answer_format)
        assert normalize_answer(a, answer_format) == normalize_answer(
            normalize_answer(a, answer_format), answer_format
        )
    assert same_answer(a, b, answer_format) == same_answer(b, a, answer_format)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**12), 10**12), st.integers(2, 10**6))
def test_a_non_integer_value_is_never_the_same_as_an_integer(p: int, q: int) -> None:
    if p % q == 0:
        p += 1
    answer = extract_answer(f"\\boxed{{\\frac{{{p}}}{{{q}}}}}", "integer")
    assert answer is not None
    for k in (p // q, p // q + 1, 0):
        assert not same_answer(answer, str(k), "integer")
