"""What a seat's role asks of it: the instruction its propose and review prompts carry.

Consumes the task's ``Policy`` and a seat's role name. Emits the role's instruction: the
policy's own (``Policy.role_instructions``), else the built-in one of a well-known role
below, else none. ``member`` (every seat of a policy without roles) and moa's
``aggregator`` (whose task the protocol's prompt already sets) have no built-in
instruction. The broker resolves it when it dispatches a proposal and the reviewer when it
asks for a review, so an agent is told its role's instruction and nothing of the others'.
"""

from __future__ import annotations

from schemas.task import Policy

# Each speaks to both phases: a seat keeps its role when it proposes and when it reviews.
DEFAULTS: dict[str, str] = {
    "solver": (
        "Your role is solver: the council counts on you for a complete, correct solution. "
        "Work the problem out yourself from the beginning, check each step before you "
        "build on it, and commit to one answer. When you review, redo the decisive steps "
        "of each candidate instead of judging how sure it sounds."
    ),
    "verifier": (
        "Your role is verifier: your job is to catch errors, your own and the others'. "
        "When you propose, solve the problem, then confirm the result by a second, "
        "independent route (substitute it back, check a small case, estimate its size) and "
        "say what you checked. When you review, re-derive each candidate's decisive "
        "claims; a step you cannot confirm counts against it, however plausible it reads."
    ),
    "domain-expert": (
        "Your role is domain expert: bring what a specialist in the question's field "
        "knows. Name the definitions, standard results and common traps that apply, and "
        "use them. When you review, point out where a candidate misuses a result, ignores "
        "a condition it needs or falls into one of those traps."
    ),
    "skeptic": (
        "Your role is skeptic: assume the leading answer may be wrong until you have "
        "checked it. Look for the reading of the question, the edge case or the step that "
        "would break it, and say whether it survives. When you review, give a popular "
        "answer no more credit than a lone one; only what you verified counts."
    ),
}


def instruction(policy: Policy, role: str) -> str | None:
    """The instruction for seats of ``role`` under ``policy``, or None."""
    text = policy.role_instructions.get(role, DEFAULTS.get(role))
    return text if text and text.strip() else None
