"""Answer extraction and comparison per ``answer_format``, for real and simulated agents.

integer  the last ``\\boxed{…}``, else the number after "final answer", else the last
         number in the text; normalised ("1,234.0" → "1234", "1e3" → "1000")
choice   a letter A–J from ``\\boxed{}``, the "final answer" line, the last "answer: X"
         or "the answer is (X)" (the letter in upper case), else the last "(X)"
code     the last fenced code block
text     ``\\boxed{}``, else the "Final answer:" line, else the last non-empty line
"""

from __future__ import annotations

import re

from schemas.base import AnswerFormat

_FINAL = re.compile(r"final answer\s*(?:is)?\s*[:=]?\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
# "Answer: C", "the answer is (B)": the word is matched in any case, the letter only in
# upper case, so "the answer is a bit…" does not read as A.
_ANSWER_LETTER = re.compile(r"(?i:\banswer\b\s*(?:is)?\s*[:=]?\s*)\(?([A-J])\)?(?![A-Za-z])")
_CHOICE = re.compile(r"(?:answer\s*(?:is)?\s*[:=]?\s*\(?|^\(?)([A-J])\)?(?:\W|$)", re.IGNORECASE)
_CODE = re.compile(r"```[\w+-]*\n(.*?)```", re.DOTALL)


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


def normalize_number(raw: str) -> str | None:
    cleaned = raw.replace(",", "").replace("$", "").replace("\\!", "").strip().rstrip(".")
    match = _NUMBER.search(cleaned)
    if match is None:
        return None
    token = match.group(0).replace(",", "")
    try:
        value = float(token)
    except ValueError:
        return None
    if value.is_integer():
        return str(int(value))
    return repr(value)


def extract_answer(text: str, answer_format: AnswerFormat) -> str | None:
    if not text or not text.strip():
        return None
    boxed = last_boxed(text)
    if answer_format == "integer":
        for candidate in (boxed, _final_line(text)):
            if candidate:
                number = normalize_number(candidate)
                if number is not None:
                    return number
        numbers = _NUMBER.findall(text)
        return normalize_number(numbers[-1]) if numbers else None
    if answer_format == "choice":
        for candidate in (boxed, _final_line(text)):
            if candidate:
                letter = _letter(candidate)
                if letter:
                    return letter
        stated = _ANSWER_LETTER.findall(text)
        if stated:
            return str(stated[-1])
        letters = re.findall(r"\(([A-J])\)", text)
        return letters[-1] if letters else None
    if answer_format == "code":
        blocks = _CODE.findall(text)
        return blocks[-1].strip() if blocks else (boxed or text.strip())
    if boxed:
        return boxed
    final = _final_line(text)
    if final:
        return final
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def normalize_answer(answer: str | None, answer_format: AnswerFormat) -> str | None:
    """The form two answers are compared in: numbers canonical, text case- and space-folded."""
    if answer is None:
        return None
    if answer_format == "integer":
        return normalize_number(answer)
    if answer_format == "choice":
        return _letter(answer) or answer.strip().upper()
    if answer_format == "code":
        return "\n".join(line.rstrip() for line in answer.strip().splitlines())
    folded = re.sub(r"\s+", " ", answer.strip().strip(".").lower())
    bare = folded.lstrip("$€£").replace(",", "")
    number = normalize_number(bare) if _NUMBER.fullmatch(bare) else None
    return number or folded


def same_answer(a: str | None, b: str | None, answer_format: AnswerFormat) -> bool:
    na, nb = normalize_answer(a, answer_format), normalize_answer(b, answer_format)
    return na is not None and na == nb


def _final_line(text: str) -> str | None:
    matches = _FINAL.findall(text)
    if not matches:
        return None
    line: str = matches[-1].strip()
    return line.strip("*").strip() or None


def _letter(text: str) -> str | None:
    stripped = text.strip()
    if len(stripped) == 1 and stripped.upper() in "ABCDEFGHIJ":
        return stripped.upper()
    match = _CHOICE.search(stripped)
    return match.group(1).upper() if match else None
