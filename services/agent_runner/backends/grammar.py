"""Grammars (GBNF) that make a proposal end with its format's final-answer line (pure).

Consumes an ``answer_format`` and the call's ``max_tokens``; emits the grammar a llama.cpp
or llama-cpp-python server takes as ``grammar``: a few lines of free text, then
``Final answer: \\boxed{…}`` holding what the format's extraction reads (an integer, an
option letter, a short text). The model still chooses every character of the answer; the
server only guarantees the form, as the review schema does for reviews. Code answers get
no grammar (a fenced block is not worth constraining). Off unless a pool asks for it
(``answer_grammar``): other servers refuse or ignore an unknown ``grammar`` field.
"""

from __future__ import annotations

from schemas.base import AnswerFormat

LINE_CHARS = 160
MAX_LINES = 40
# Tokens kept for the final line (at most 35 characters). Free lines are printable ASCII,
# of which a token holds at least one character: sized so, the final line always fits in
# max_tokens, whatever the tokenizer.
FINAL_TOKENS = 40
CHARS_PER_TOKEN_FLOOR = 1

_ANSWERS: dict[AnswerFormat, str] = {
    "integer": '"-"? [0-9]{1,12}',
    "choice": "[A-J]",
    "text": "[^{}\\n]{1,80}",
}


def answer_grammar(answer_format: AnswerFormat, max_tokens: int) -> str | None:
    """The grammar, or None for a format that gets none (code)."""
    answer = _ANSWERS.get(answer_format)
    if answer is None:
        return None
    final = f'"Final answer: \\\\boxed{{" {answer} "}}"'
    room = max(max_tokens - FINAL_TOKENS, 0) * CHARS_PER_TOKEN_FLOOR  # characters
    width = min(LINE_CHARS, room - 1)
    if width < 1:
        return f"root ::= {final}"
    lines = min(MAX_LINES, room // (width + 1))
    return f'root ::= line{{0,{lines}}} {final}\nline ::= [ -~]{{0,{width}}} "\\n"'
