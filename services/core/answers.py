"""Answer extraction and comparison per ``answer_format``, for real and simulated agents.

An answer is read only where the text states one explicitly; a text that states none has no
answer (None), and the proposal carrying it is ``no_answer``. Never a guess: the last number
or the last line of a text that rambles is not its answer.

integer  the last ``\\boxed{…}``, else the "Final answer" line, else a GSM8K-style ``#### N``
         line, else the last "the answer is N" / "answer: N" (a number right after it); read
         as math (math-verify: fractions, powers, ``{,}`` separators, Unicode minus, units).
         An integer gives its exact decimal ("2^{60}" → "1152921504606846976"); any other
         number a canonical non-integer form ("\\frac34" → "0.75") that never equals an
         integer; an expression with unknowns gives None
choice   a letter A–J from ``\\boxed{}``, the "final answer" line, or the last "answer: X" /
         "the answer is (X)"; a capital A or I followed by a word is the article or the
         pronoun, not an option
code     the last fenced code block, else ``\\boxed{}``
text     ``\\boxed{}``, else the "Final answer:" line; compared case- and space-folded, or as
         math (math-verify) when both sides are math
"""

from __future__ import annotations

import re

from schemas.base import AnswerFormat
from services.core.math_answers import (
    equivalent,
    looks_like_math,
    number_answer,
    plain_value,
    render,
)

_FINAL = re.compile(r"final answer\s*(?:is)?\s*[:=]?\s*(.+)", re.IGNORECASE)
_CODE = re.compile(r"```[\w+-]*\n(.*?)```", re.DOTALL)
# An option letter: "(C)" in either case, or a capital standing alone (not in a word, not
# a LaTeX command, not "C++"). Not math-verify's string extraction: it takes a letter
# followed by any space, so reads "Final answer: I think C" as I, and skips \boxed{C}, (C).
_OPTION = re.compile(r"\(([A-Ja-j])\)|(?<![\w\\'’])([A-J])(?![\w'’+\-])")
# "I think…", "A bit…": a capital A or I followed by a word is the pronoun or the article,
# unless the word is one that follows an option's name ("A is right", "I because…").
_PROSE_AFTER = re.compile(r"\s+(?!(?:is|because|since|as|which)\b)[a-z]")
_ANSWER_IS = re.compile(r"\banswer\b\s*(?:is\b)?\s*[:=]?\s*", re.IGNORECASE)
# "#### 18": how GSM8K's solutions state their answer, and so how models trained on it do.
_HASHES = re.compile(r"^\s*####\s*(\S.*)$", re.MULTILINE)
_ANSWER_NUMBER = re.compile(
    r"\banswer\b\s*(?:is\b)?\s*[:=]?\s*(\$?\s*[-\u2212]?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE
)
_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{…}``, with nested braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def extract_answer(text: str, answer_format: AnswerFormat) -> str | None:
    if not text or not text.strip():
        return None
    boxed = last_boxed(text)
    if answer_format == "integer":
        return _integer(boxed, text)
    if answer_format == "choice":
        return _choice(boxed, text)
    if answer_format == "code":
        blocks = _CODE.findall(text)
        return blocks[-1].strip() if blocks else (boxed or None)
    return boxed or _final_line(text)


MISSING: dict[AnswerFormat, str] = {
    "integer": "no final answer stated (\\boxed{N}, 'Final answer: N', '#### N' or "
    "'the answer is N')",
    "choice": "no option letter stated as the answer (\\boxed{X}, 'Final answer: X' or "
    "'the answer is X')",
    "code": "no fenced code block",
    "text": "no final answer stated (\\boxed{...} or a 'Final answer:' line)",
}


def normalize_answer(answer: str | None, answer_format: AnswerFormat) -> str | None:
    """The form two answers are compared in: numbers canonical, text case- and space-folded."""
    if answer is None:
        return None
    if answer_format == "integer":
        return number_answer(answer)
    if answer_format == "choice":
        return _option(answer) or answer.strip().upper()
    if answer_format == "code":
        return "\n".join(line.rstrip() for line in answer.strip().splitlines())
    folded = re.sub(r"\s+", " ", answer.strip().strip(".").lower())
    number = plain_value(folded.lstrip("$€£"))
    return folded if number is None else render(number)


def same_answer(a: str | None, b: str | None, answer_format: AnswerFormat) -> bool:
    na, nb = normalize_answer(a, answer_format), normalize_answer(b, answer_format)
    if na is None or nb is None:
        return False
    if na == nb:
        return True
    # Only text needs more: integer answers are already canonical values, and a text
    # answer is compared as math only when both sides are math ("Paris" parses as a product
    # of five unknowns, equal to "sirap").
    return (
        answer_format == "text"
        and a is not None
        and b is not None
        and looks_like_math(a.strip())
        and looks_like_math(b.strip())
        and equivalent(a.strip(), b.strip())
    )


def _integer(boxed: str | None, text: str) -> str | None:
    """The first form of the docstring's order that the text uses decides: it is read as
    math, and is the answer even when it is not an integer (None if it states no number)."""
    if boxed is not None:
        return number_answer(boxed, latex=True)
    final = _final_line(text)
    if final is not None:
        return number_answer(final)
    hashes = _HASHES.findall(text)
    if hashes:
        return number_answer(hashes[-1])
    stated = _ANSWER_NUMBER.findall(text)
    return number_answer(stated[-1]) if stated else None


def _choice(boxed: str | None, text: str) -> str | None:
    letter = _option(boxed) if boxed else None
    if letter:
        return letter
    final = _final_line(text)
    letter = _option(final) if final else None
    if letter:
        return letter
    stated = [_option_at(text, m.end()) for m in _ANSWER_IS.finditer(text)]
    letters = [letter for letter in stated if letter]
    return letters[-1] if letters else None


def _option(text: str) -> str | None:
    """The first option letter in ``text``: the whole of it ("c", "\\text{C}", "**B**"), or a
    letter standing as an option within it ("(b)", "it is C", but not "I think")."""
    bare = text.strip()
    if len(bare) != 1:
        bare = _WRAPPER.sub(r"\1", bare).strip().strip("*$.:() ").strip()
    if len(bare) == 1 and bare.upper() in "ABCDEFGHIJ":
        return bare.upper()
    for match in _OPTION.finditer(text):
        letter = _as_option(text, match)
        if letter:
            return letter
    return None


def _option_at(text: str, position: int) -> str | None:
    match = _OPTION.match(text, position)
    return _as_option(text, match) if match else None


def _as_option(text: str, match: re.Match[str]) -> str | None:
    if match.group(1):
        return match.group(1).upper()
    letter = match.group(2)
    if letter in "AI" and _PROSE_AFTER.match(text, match.end()):
        return None
    return letter


def _final_line(text: str) -> str | None:
    matches = _FINAL.findall(text)
    if not matches:
        return None
    line: str = matches[-1].strip()
    return line.strip("*").strip() or None
