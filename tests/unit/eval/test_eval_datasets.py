"""``nsed eval`` data sets: each shape read into the task it means, malformed lines named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bench.study import DATA
from services.core.answers import same_answer
from services.eval.datasets import LETTERS, DatasetError, load, parse_line


def one(row: Any, line: int = 1) -> Any:
    return parse_line(json.dumps(row), line)


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_the_shipped_gsm8k_subset_reads_as_integer_math_tasks() -> None:
    items = load(DATA, limit=3)
    assert [(i.line, i.shape, i.reference, i.answer_format) for i in items] == [
        (1, "gsm8k", "18", "integer"),
        (2, "gsm8k", "3", "integer"),
        (3, "gsm8k", "70000", "integer"),
    ]
    assert items[0].prompt.startswith("Janet")
    assert "####" not in items[0].prompt
    assert items[0].domain == "math"
    assert len(load(DATA)) == 500


def test_gsm8k_answers_lose_their_thousands_separators() -> None:
    item = one({"question": "How many?", "answer": "work\n#### 1,234"})
    assert (item.reference, item.answer_format) == ("1234", "integer")


@pytest.mark.parametrize(
    ("row", "reference", "answer_format"),
    [
        ({"problem": "AIME 1", "answer": 33}, "33", "integer"),
        ({"problem": "AIME 2", "answer": "070"}, "070", "integer"),
        ({"question": "AIME 3", "answer": "204"}, "204", "integer"),
        ({"problem": "MATH", "answer": "\\frac{1}{2}"}, "\\frac{1}{2}", "text"),
        ({"problem": "MATH", "solution": "so \\boxed{\\sqrt{2}}."}, "\\sqrt{2}", "text"),
        ({"problem": "MATH", "answer": "$1,000$"}, "1000", "integer"),
    ],
)
def test_math_and_aime_answers_are_integers_when_they_are_and_math_text_otherwise(
    row: dict[str, Any], reference: str, answer_format: str
) -> None:
    item = one(row)
    assert (item.shape, item.reference, item.answer_format) == ("math", reference, answer_format)
    assert item.domain == "math"


def test_a_latex_reference_is_compared_as_math() -> None:
    item = one({"problem": "x?", "answer": "\\frac{1}{2}"})
    assert same_answer("0.5", item.reference, item.answer_format)
    assert not same_answer("0.25", item.reference, item.answer_format)


@pytest.mark.parametrize(
    ("row", "reference"),
    [
        ({"question": "Q", "choices": ["w", "x", "y", "z"], "answer": 2}, "C"),  # MMLU
        ({"question": "Q", "options": {"A": "w", "B": "x"}, "answer": "B"}, "B"),
        ({"question": "Q", "options": list("abcdefghij"), "answer": "J"}, "J"),  # MMLU-Pro
        ({"question": "Q", "options": ["w", "x", "y"], "answer_index": 1}, "B"),
        ({"question": "Q", "choices": ["w", "x", "y"], "answer": "y"}, "C"),  # by its text
        (  # ARC, numeric labels
            {
                "question": "Q",
                "choices": {"text": ["w", "x", "y"], "label": ["1", "2", "3"]},
                "answerKey": "3",
            },
            "C",
        ),
        (
            {
                "question": "Q",
                "choices": {"text": ["w", "x"], "label": ["A", "B"]},
                "answerKey": "a",
            },
            "A",
        ),
    ],
)
def test_multiple_choice_shapes_become_a_letter_and_options_in_the_prompt(
    row: dict[str, Any], reference: str
) -> None:
    item = one(row)
    assert (item.shape, item.reference, item.answer_format) == ("choice", reference, "choice")
    assert item.prompt.startswith("Q\n\nA. ")


def test_plain_lines_take_their_format_or_infer_it() -> None:
    assert one({"prompt": "6*7?", "answer": "42"}).answer_format == "integer"
    assert one({"prompt": "6*7?", "answer": 42}).reference == "42"
    capital = one({"prompt": "Capital of France?", "answer": "Paris", "domain": "geo"})
    assert (capital.answer_format, capital.domain, capital.shape) == ("text", "geo", "plain")
    choice = one({"prompt": "Pick one\nA. x\nB. y", "answer": "B", "format": "choice"})
    assert (choice.answer_format, choice.reference) == ("choice", "B")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"text": "hi", "label": 1}', "unknown shape"),
        ('{"prompt": "x"}', "'answer' must be"),
        ('{"prompt": "", "answer": "1"}', "'prompt' must be a non-empty string"),
        ('{"prompt": "x", "answer": "1", "format": "essay"}', "'format' must be one of"),
        ('{"prompt": "x", "answer": "1", "domain": "a b"}', "'domain' must be"),
        ('{"question": "x", "answer": "#### twelve"}', "not an integer"),
        ('{"problem": "x"}', "no 'answer'"),
        ('{"question": "x", "choices": ["a", "b"], "answer": 2}', "outside the 2 options"),
        ('{"question": "x", "choices": ["a"], "answer": 0}', "2 to 10 options"),
        ('{"question": "x", "choices": ["a", "b"], "answer": "C"}', "names none of the options"),
        ('{"question": "x", "choices": ["a", "b"]}', "no 'answer'"),
        ('{"question": "x", "options": "a, b", "answer": "A"}', "must be a list or an object"),
        ('{"question": "x", "options": {"A": "a", "a": "b"}, "answer": "A"}', "repeated labels"),
    ],
)
def test_a_malformed_line_is_one_error_with_the_file_and_line_number(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, '{"prompt": "fine", "answer": "1"}', "", line)
    with pytest.raises(DatasetError) as caught:
        load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:3: ")  # the blank line 2 still counts
    assert message in text
    assert "\n" not in text


def test_limit_reads_no_further_than_it_needs(tmp_path: Path) -> None:
    path = write(tmp_path, '{"prompt": "a", "answer": "1"}', '{"prompt": "b", "answer": "2"}', "{")
    assert [i.reference for i in load(path, limit=2)] == ["1", "2"]
    with pytest.raises(DatasetError, match=":3: not valid JSON"):
        load(path, limit=3)


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no tasks"):
        load(write(tmp_path, "", "  "))
    with pytest.raises(DatasetError, match="cannot read"):
        load(tmp_path / "absent.jsonl")


option_texts = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20
    ).filter(str.strip),
    min_size=2,
    max_size=len(LETTERS),
    unique_by=str.strip,
)


@given(texts=option_texts, data=st.data())
def test_every_choice_shape_names_the_same_option_and_lists_every_option(
    texts: list[str], data: st.DataObject
) -> None:
    right = data.draw(st.integers(0, len(texts) - 1))
    letters = LETTERS[: len(texts)]
    shapes = [
        {"question": "Q", "choices": texts, "answer": right},
        {"question": "Q", "options": texts, "answer": letters[right]},
        {"question": "Q", "options": dict(zip(letters, texts, strict=True)), "answer": right},
        {
            "question": "Q",
            "choices": {"text": texts, "label": [str(i + 1) for i in range(len(texts))]},
            "answerKey": str(right + 1),
        },
    ]
    for row in shapes:
        item = one(row)
        assert item.reference == letters[right]
        listed = item.prompt.split("\n\n", 1)[1].splitlines()
        assert listed == [
            f"{letter}. {t.strip()}" for letter, t in zip(letters, texts, strict=True)
        ]


@given(st.integers(-(10**12), 10**12))
def test_an_integer_reference_matches_the_integer_it_names(value: int) -> None:
    for row in ({"problem": "p", "answer": value}, {"prompt": "p", "answer": str(value)}):
        item = one(row)
        assert item.answer_format == "integer"
        assert same_answer(f"\\boxed{{{value}}}", item.reference, "integer")
