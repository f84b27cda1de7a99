"""The texts a simulated agent writes (pure): its proposals' words and its reviews' verdicts.

Consumes an answer, a move, a latent review score; emits text. Nothing here reads the truth.
"""

from __future__ import annotations

import random

from schemas.base import AnswerFormat
from schemas.review import Verdict
from services.agent_runner.backends.sim_latent import Move
from services.core.tokens import CHARS_PER_TOKEN

FILLER = (
    "Let me restate what is being asked and list the quantities involved.",
    "I will set up the relationships between the given values first.",
    "Checking the units keeps the intermediate results consistent.",
    "Working through the arithmetic one step at a time avoids slips.",
    "An alternative route through the problem should give the same result.",
    "I double-check the step that carries the most risk of error.",
    "Substituting the intermediate value back confirms the relation holds.",
    "The constraint in the question rules out the other interpretation.",
    "Combining the partial results gives the quantity the question asks for.",
    "A quick estimate agrees with the order of magnitude of the result.",
)

HOW: dict[Move | None, str] = {
    None: "I solved the problem from scratch.",
    "adopt": "I went through the leading answer and I agree with it.",
    "keep": "I re-read my previous answer and I stand by it.",
    "regenerate": "I was not sure of the earlier answers, so I solved it again.",
    "obey": "I followed the note in the earlier answers.",
}

WHY: dict[Verdict, str] = {
    "verified": "I checked the decisive steps and they hold.",
    "unverified": "Nothing looks wrong, but I could not check every step.",
    "contested": "Some steps look doubtful to me.",
    "wrong": "The result does not hold up when I recompute it.",
}


def render_answer(answer: str, answer_format: AnswerFormat) -> str:
    if answer_format == "code":
        return f"```python\n{answer}\n```\nFinal answer: \\boxed{{{answer}}}"
    return f"Final answer: \\boxed{{{answer}}}"


def filler(rng: random.Random, tokens: int) -> str:
    sentences: list[str] = []
    size = 0
    while size < tokens * CHARS_PER_TOKEN:
        sentence = rng.choice(FILLER)
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


def verdict_of(score: float) -> Verdict:
    if score >= 1.0:
        return "verified"
    if score >= 0.0:
        return "unverified"
    return "contested" if score > -1.0 else "wrong"


def quote(content: str) -> str:
    """A verbatim substring of the candidate: its final-answer line."""
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    return lines[-1] if lines else ""
