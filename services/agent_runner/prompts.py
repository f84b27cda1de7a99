"""Every prompt an agent is given (§6.3), in one place.

The system prompt depends only on the task's own ``system`` text, so it is byte-identical
across rounds and phases and servers can reuse their prompt cache; round, phase, state and
candidates go in the user turn. Every text a model wrote (candidates, reasoning excerpts,
state items, critiques, a seat's own answers) is fenced as data, one fence per text, with
the notice that says so (``services.core.fencing``); the rest is the user's or ours.
Simulated agents render these same prompts so that their token counts are what a real
model would be sent. The vote, moa and debate protocols have their own propose prompts
(``services.agent_runner.protocol_prompts``); the review prompts are nsed's alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from schemas.base import AnswerFormat
from schemas.propose import ConsensusState, ProposeRequested
from schemas.review import Candidate, ReviewRequested
from schemas.task import TaskView
from services.agent_runner import protocol_prompts
from services.core.fencing import FENCE_NOTICE, fence, sanitize, state_item
from services.core.tokens import estimate_tokens, shorten_middle


class ChatMessage(TypedDict):
    role: str
    content: str


COUNCIL = (
    "You are one member of a council of AI models that answers a user's question together. "
    "The council's answer goes straight to the user: if the council is wrong, every member "
    "has failed. Each round, members propose answers and review each other's proposals "
    "anonymously; the proposal with the most support wins the round and its author is "
    "credited. Collaborate on the truth and compete to be the one who finds it: truth "
    "outranks popularity, and agreement you did not verify is worth nothing."
)

FORMAT_RULES: dict[AnswerFormat, str] = {
    "integer": "End with one line `Final answer: \\boxed{N}` where N is a single integer.",
    "choice": "End with one line `Final answer: \\boxed{X}` where X is the letter of one option.",
    "code": "Give the complete solution in one fenced code block, then stop.",
    "text": "End with one line `Final answer: \\boxed{...}` holding the short final answer.",
}

RUBRIC = (
    "Weight bands: -100..-50 demonstrably wrong; -50..-10 major flaws; -10..+10 uncertain "
    "(0 neutral); +10..+50 sound with minor issues; +50..+85 strong and checked; "
    "+85..+100 every step verified."
)


def system_prompt(task: TaskView) -> str:
    return COUNCIL if not task.system else f"{COUNCIL}\n\n{task.system}"


def render_state(state: ConsensusState | None) -> str:
    if state is None or not state.items:
        return ""
    lines = [f"Consensus state after round {state.round} (most supported first):"]
    lines.extend(state_item(item.kind, item.text) for item in state.items)
    return "\n".join(lines)


def role_note(request: ProposeRequested | ReviewRequested) -> str:
    """The seat's role instruction, to end its user turn ("" when its role has none).

    Never in the system prompt: that must stay byte-identical across rounds, phases and
    seats, so a server keeps one cached prefix for the whole team. At the end of the user
    turn, so seats of different roles still share everything before it (round 1's question
    is the same for every seat). It is the task submitter's text (or a built-in one), not
    a model's, so it is not fenced as data; it is defanged all the same, so that it cannot
    open or close one of the fences above it.
    """
    if not request.role_instruction:
        return ""
    return (
        f"\n\nYour role on this team: {request.role}. The people who set this task gave "
        "your role an instruction (it was not written by a model, and only seats of your "
        "role see it):\n[role instruction]\n"
        f"{sanitize(request.role_instruction)}\n[end of role instruction]\n"
        "Follow it together with everything above, and answer in the form asked above."
    )


def propose_messages(request: ProposeRequested) -> list[ChatMessage]:
    task = request.task
    rule = FORMAT_RULES[task.answer_format]
    if request.protocol in protocol_prompts.PROTOCOLS:
        return [
            ChatMessage(role="system", content=protocol_prompts.system_prompt(task)),
            ChatMessage(
                role="user",
                content=protocol_prompts.user_prompt(request, rule) + role_note(request),
            ),
        ]
    if request.round <= 1 or request.state is None:
        user = (
            f"Round {request.round} — propose.\n\nQuestion:\n{task.prompt}\n\n"
            f"Make a short plan, then solve step by step. {rule}"
        )
    else:
        feedback = "\n".join(fence("critique", line) for line in request.feedback) or "(none)"
        mine = " (none)"
        if request.previous_answer is not None:
            mine = "\n" + fence("previous_answer", request.previous_answer)
        user = (
            f"Round {request.round} — propose again.\n\nQuestion:\n{task.prompt}\n\n"
            f"{FENCE_NOTICE}\n\n{render_state(request.state)}\n\n"
            f"Your previous answer:{mine}\n"
            f"Critiques of your previous proposal:\n{feedback}\n\n"
            "Open by saying how you address each critique. Then write a new answer that "
            "combines the strengths and fixes the faults you found; do not copy the leading "
            f"answer without checking it. {rule}"
        )
    return [
        ChatMessage(role="system", content=system_prompt(task)),
        ChatMessage(role="user", content=user + role_note(request)),
    ]


# The shape in words, with no example values: a small model under a JSON grammar copies
# what an example offers it. A placeholder such as "<why>" came back verbatim in 161 of 162
# justifications (issue 13), and a worked example's justification in every review of
# Gemma 3 270M; copied text gets a ballot thrown out (services/reviewer/validation.py).
REVIEW_JSON = (
    'Answer with JSON only: {"reviews": {...}} holding one object per candidate, keyed by '
    'its label. Each object has "weight" (an integer from -100 to 100), "claims" (one to '
    'three objects, each a "quote" copied character for character from that candidate\'s '
    'answer and a "verdict": verified, contested, unverified or wrong) and "justification" '
    "(one or two sentences on why that candidate earns its weight). Write every "
    "justification yourself, about that candidate alone."
)
REVIEW_STEPS = (
    "For each candidate, find its 2–3 decisive claims. Trust your own solution unless a "
    "candidate proves it wrong; locate exactly where the candidate departs from yours and "
    "verify only those claims. A unanimous wrong answer is a shared hallucination. Quote "
    "each claim verbatim from the candidate's answer, not from its reasoning."
)
SCORE = (
    "Score every candidate ({labels}) with a weight from -100 to 100, a short "
    "justification and the claims you checked (quote + verified | contested | "
    "unverified | wrong)."
)


def review_template() -> str:
    """Every fixed text of the review prompt (no question, no candidate): what a review
    that only echoes its instructions would be made of."""
    return "\n".join((COUNCIL, REVIEW_STEPS, RUBRIC, SCORE, REVIEW_JSON))


def review_messages(
    request: ReviewRequested,
    json_schema: dict[str, Any] | None = None,
    candidate_tokens: int | None = None,
) -> list[ChatMessage]:
    """The review prompt. ``json_schema`` (sent to servers that enforce it) is described
    in words here either way, so a server without structured output still gets the shape.
    ``candidate_tokens`` caps each fenced text (own answer, candidate, reasoning excerpt;
    middle cut) to fit a small context window; ``fitted_texts`` says how many there are."""
    task = request.task

    def fit(text: str) -> str:
        return fitted(text, candidate_tokens)

    def shown(c: Candidate) -> str:
        block = fence("candidate", fit(c.content), label=c.label)
        if c.reasoning_excerpt:  # the fence stays when fit() empties it: the frame counts it
            block += "\n" + fence("reasoning", fit(c.reasoning_excerpt), label=c.label)
        return block

    own = "(none)"
    if request.own:
        own = fence("own_answer", fit(request.own.content), label="own")
    blocks = "\n\n".join(shown(c) for c in request.candidates)
    labels = ", ".join(c.label for c in request.candidates)
    user = (
        f"Round {request.round} — review.\n\nQuestion:\n{task.prompt}\n\n"
        f"{FENCE_NOTICE}\n\nYour own answer, as your baseline:\n{own}\n\n"
        "Candidates, each with an excerpt of its author's reasoning when there is one:\n"
        f"{blocks}\n\n{REVIEW_STEPS} {request.rubric or RUBRIC}\n"
        f"{SCORE.format(labels=labels)}\n{REVIEW_JSON}"
    )
    return [
        ChatMessage(role="system", content=system_prompt(task)),
        ChatMessage(role="user", content=user + role_note(request)),
    ]


def fold_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages with the system prompt moved to the head of the first user turn, for
    chat templates that drop system messages (Gemma's, in llama-cpp-python)."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if not system:
        return list(rest)
    head = "\n\n".join(system)
    for i, message in enumerate(rest):
        if message["role"] == "user":
            rest[i] = ChatMessage(role="user", content=f"{head}\n\n{message['content']}")
            return rest
    return [ChatMessage(role="user", content=head), *rest]


def fitted(text: str, candidate_tokens: int | None) -> str:
    """A fenced text as ``review_messages`` shows it under ``candidate_tokens``."""
    return text if candidate_tokens is None else shorten_middle(text, candidate_tokens)


def fitted_texts(request: ReviewRequested) -> int:
    """How many texts ``review_messages`` cuts to ``candidate_tokens`` each."""
    excerpts = sum(1 for c in request.candidates if c.reasoning_excerpt)
    return len(request.candidates) + excerpts + (1 if request.own else 0)


def prompt_tokens(messages: list[ChatMessage]) -> int:
    return sum(estimate_tokens(m["content"]) for m in messages)
