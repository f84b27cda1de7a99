"""What ``nsed submit`` checks before it publishes (pure): a task that cannot work is
refused with one line (exit 2) before it costs anything; one that works, but not as the
user may think, gets a warning line.

Consumes the task the command built and, for the checks against the pool, the live agents
(``services.broker.registry.LiveAgent``); emits a refusal reason or warning lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.task import TaskSubmitted
from services.broker.registry import LiveAgent

# Option markers a prompt shows its choices with: "(A)" anywhere, "A)" after a blank or at
# a line start, "A." or "A:" at a line start (after an optional bullet or bold marker).
_OPTION = re.compile(
    r"\(([A-J])\)"
    r"|(?:^|[ \t])([A-J])\)[ \t]"
    r"|^[ \t]*(?:[-*][ \t]+)?\**([A-J])[.:]\**[ \t]",
    re.MULTILINE,
)
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Asked:
    """What the command line set, as opposed to a default: only that is checked against
    the live pool (the ``make up`` demo and a default team size are the broker's to fit)."""

    team_size: bool = False
    domain: bool = False


def option_letters(prompt: str) -> set[str]:
    """The option letters (A–J) the prompt marks."""
    return {next(g for g in m.groups() if g) for m in _OPTION.finditer(prompt)}


def has_options(prompt: str) -> bool:
    """Whether the prompt shows at least two options for a choice answer to name."""
    return len(option_letters(prompt)) >= 2


def refusal(task: TaskSubmitted) -> str | None:
    """Why ``task`` cannot work whatever the pool, or None."""
    policy = task.policy
    if policy.team_size == 1 and policy.protocol != "vote":
        return (
            f"--team-size 1 is below quorum: {policy.protocol} needs a team of at least 2 "
            "(a team of one answers with --protocol vote)"
        )
    answer = task.reference_answer
    if task.answer_format == "integer" and answer is not None and not is_integer(answer):
        return (
            f"--answer {answer!r} is not an integer, and --format integer compares integers: "
            "give the number (42), or another --format"
        )
    if task.answer_format == "choice" and not has_options(task.prompt):
        return (
            "--format choice, but the prompt shows no options: write them into it, one per "
            'line, as "A. …", "A) …" or "(A) …"'
        )
    return None


def is_integer(answer: str) -> bool:
    """Whether a reference answer states an integer the way answers are compared."""
    if _INTEGER.match(answer.strip()):
        return True
    from services.core.answers import normalize_answer  # math parsing: only when needed

    value = normalize_answer(answer, "integer")
    return value is not None and _INTEGER.match(value) is not None


def against_pool(
    task: TaskSubmitted, live: Sequence[LiveAgent], asked: Asked
) -> tuple[str | None, list[str]]:
    """Why ``task`` cannot work on the live pool (or None), and the warnings it deserves."""
    policy = task.policy
    warnings: list[str] = []
    if not live:
        return "no live agents: start some (make up, or nsed agent run POOL --agent ID)", []
    if asked.team_size and not policy.allow_repeat_seats:
        ids = ", ".join(a.agent_id for a in live)
        if policy.team_size > len(live):
            return (
                f"--team-size {policy.team_size}, but {len(live)} agent(s) are live ({ids}): "
                "ask for fewer, or let an agent hold several seats with --allow-repeat-seats"
            ), []
        families = Counter(a.card.family for a in live)
        room = sum(min(n, policy.max_per_family) for n in families.values())
        if policy.team_size > room:
            return (
                f"--team-size {policy.team_size}, but at most {room} of the {len(live)} live "
                f"agents can sit together ({len(families)} famil"
                f"{'y' if len(families) == 1 else 'ies'}, at most {policy.max_per_family} "
                "per family): see --max-per-family and --allow-repeat-seats"
            ), []
    declared = sorted({d for a in live for d in a.card.domains})
    if asked.domain and task.domain not in declared:
        warnings.append(
            f"no live agent declares the domain {task.domain!r} (declared: "
            f"{', '.join(declared) or 'none'}); their default priors apply"
        )
    return None, warnings
