"""Evaluation data sets: JSONL lines in, ``Item`` s out (pure but for reading the file).

Each line's shape is detected on its own:

gsm8k   ``{question, answer}`` whose answer ends in ``#### N``: the integer N
math    ``{problem | question, answer}`` (MATH, AIME): an integer answer is compared as an
        integer, anything else (LaTeX) as text, which ``same_answer`` compares as math;
        without ``answer``, the last ``\\boxed{}`` of ``solution``
choice  ``{question, choices | options, answer | answerKey | answer_index}``: options as a
        list, a ``{A: text, …}`` map or ``{text: […], label: […]}``; the answer a 0-based
        index, an option's label or an option's text. The options are written into the
        prompt as ``A. …`` lines and the reference is a letter.
plain   ``{prompt, answer, format?, domain?}``; ``format`` defaults to integer when the
        answer is one, else text

A line that fits none of them, or is not JSON, is a ``DatasetError`` naming the file and
line. Blank lines are skipped; line numbers count every line from 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from schemas.base import TOKEN_PATTERN, AnswerFormat
from services.core.answers import last_boxed

Shape = Literal["gsm8k", "math", "choice", "plain"]
LETTERS = "ABCDEFGHIJ"
_INTEGER = re.compile(r"^[-+]?\d+$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+$")
_TOKEN = re.compile(TOKEN_PATTERN)
_FORMATS: tuple[str, ...] = get_args(AnswerFormat)


class DatasetError(ValueError):
    """A data set that cannot be read, with where."""


@dataclass(frozen=True)
class Item:
    line: int
    shape: Shape
    prompt: str
    reference: str
    answer_format: AnswerFormat
    domain: str = "general"


class _Bad(ValueError):
    """Why one line does not parse (the loader adds the file and line)."""


def load(path: Path, limit: int | None = None) -> list[Item]:
    """The first ``limit`` items of ``path`` (every item without a limit)."""
    items: list[Item] = []
    try:
        for number, text in _lines(path):
            if limit is not None and len(items) >= limit:
                break
            try:
                items.append(parse_line(text, number))
            except _Bad as exc:
                raise DatasetError(f"{path}:{number}: {exc}") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not items:
        raise DatasetError(f"{path}: no tasks in it")
    return items


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    # Decoded line by line, so that a byte that is not UTF-8 is reported with its line.
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{path}:{number}: not UTF-8 text (byte {exc.start + 1} of the line)"
                ) from exc
            if text.strip():
                yield number, text


def parse_line(text: str, line: int) -> Item:
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(row, dict):
        raise _Bad(f"expected a JSON object, got {type(row).__name__}")
    if "prompt" in row:
        return _plain(row, line)
    if "choices" in row or "options" in row:
        return _choice(row, line)
    answer = row.get("answer")
    if "question" in row and isinstance(answer, str) and "####" in answer:
        return _gsm8k(row, line)
    if "problem" in row or "question" in row:
        return _math(row, line)
    keys = ", ".join(sorted(map(str, row))) or "none"
    raise _Bad(
        "unknown shape: expected {prompt, answer}, {question, answer with ####}, "
        "{problem, answer} or {question, choices|options, answer}; "
        f"this line has keys: {keys}"
    )


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key!r} must be a non-empty string")
    return value


def _answer_text(value: Any, key: str = "answer") -> str:
    """An answer given as a string or a number, as text."""
    if isinstance(value, bool) or value is None:
        raise _Bad(f"{key!r} must be a string or a number")
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key!r} must be a non-empty string or a number")
    return value.strip()


def _integer_or_text(answer: str) -> tuple[str, AnswerFormat]:
    bare = answer.strip().strip("$").strip()
    if _THOUSANDS.match(bare):
        bare = bare.replace(",", "")
    if _INTEGER.match(bare):
        return bare.lstrip("+"), "integer"
    return answer, "text"


def _plain(row: Mapping[str, Any], line: int) -> Item:
    prompt = _text(row, "prompt")
    answer = _answer_text(row.get("answer"))
    given = row.get("format")
    if given is None:
        reference, answer_format = _integer_or_text(answer)
    elif given in _FORMATS:
        reference, answer_format = answer, cast("AnswerFormat", given)
    else:
        raise _Bad(f"'format' must be one of {', '.join(_FORMATS)}, not {given!r}")
    domain = row.get("domain", "general")
    if not isinstance(domain, str) or not _TOKEN.match(domain):
        raise _Bad("'domain' must be letters, digits, - and _ (at most 64)")
    return Item(line, "plain", prompt, reference, answer_format, domain)


def _gsm8k(row: Mapping[str, Any], line: int) -> Item:
    question = _text(row, "question")
    final = str(row["answer"]).rsplit("####", 1)[-1].strip()
    reference, answer_format = _integer_or_text(final)
    if answer_format != "integer":
        raise _Bad(f"the GSM8K answer after #### is not an integer: {final!r}")
    return Item(line, "gsm8k", question, reference, "integer", "math")


def _math(row: Mapping[str, Any], line: int) -> Item:
    problem = _text(row, "problem" if "problem" in row else "question")
    if "answer" in row:
        answer = _answer_text(row["answer"])
    else:
        solution = row.get("solution")
        boxed = last_boxed(solution) if isinstance(solution, str) else None
        if not boxed:
            raise _Bad("no 'answer', and no \\boxed{} answer in 'solution'")
        answer = boxed
    reference, answer_format = _integer_or_text(answer)
    return Item(line, "math", problem, reference, answer_format, "math")


def _choice(row: Mapping[str, Any], line: int) -> Item:
    question = _text(row, "question")
    key = "choices" if "choices" in row else "options"
    labels, texts = _options(row[key], key)
    for name in ("answer", "answerKey", "answer_index"):
        if name in row:
            reference = _chosen(row[name], name, labels, texts)
            break
    else:
        raise _Bad("no 'answer', 'answerKey' or 'answer_index'")
    letters = _letters(labels)
    rendered = "\n".join(f"{letters[i]}. {t}" for i, t in enumerate(texts))
    return Item(line, "choice", f"{question.rstrip()}\n\n{rendered}", letters[reference], "choice")


def _options(value: Any, key: str) -> tuple[list[str], list[str]]:
    """The options' labels as given (empty for a plain list) and their texts."""
    labels: list[str] = []
    if isinstance(value, list):
        texts = value
    elif isinstance(value, dict) and set(value) == {"text", "label"}:
        labels, texts = value["label"], value["text"]
        if not isinstance(labels, list) or not isinstance(texts, list) or len(labels) != len(texts):
            raise _Bad(f"{key!r}: 'text' and 'label' must be lists of the same length")
    elif isinstance(value, dict):
        labels, texts = list(value), list(value.values())
    else:
        raise _Bad(f"{key!r} must be a list or an object")
    if not 2 <= len(texts) <= len(LETTERS):
        raise _Bad(f"{key!r} must hold 2 to {len(LETTERS)} options, not {len(texts)}")
    if not all(isinstance(t, str | int | float) and not isinstance(t, bool) for t in texts):
        raise _Bad(f"every option of {key!r} must be a string or a number")
    if labels and len({str(label).strip().upper() for label in labels}) != len(labels):
        raise _Bad(f"{key!r} has repeated labels")
    return [str(label).strip() for label in labels], [str(t).strip() for t in texts]


def _letters(labels: Sequence[str]) -> list[str]:
    """Letter labels stay as they are; any other labelling (ARC's 1-4) becomes A, B, …"""
    upper = [label.upper() for label in labels]
    if upper and all(len(x) == 1 and x in LETTERS for x in upper):
        return upper
    return list(LETTERS)


def _chosen(value: Any, key: str, labels: Sequence[str], texts: Sequence[str]) -> int:
    """The index of the option ``value`` names."""
    count = len(texts)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < count:
            raise _Bad(f"{key!r} index {value} is outside the {count} options (0-based)")
        return value
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{key!r} must be an option index, label or text")
    given = value.strip()
    names = [label.upper() for label in labels] or list(LETTERS[:count])
    if given.upper() in names:
        return names.index(given.upper())
    if given in texts:
        return list(texts).index(given)
    raise _Bad(f"{key!r} {given!r} names none of the options ({', '.join(names)})")
