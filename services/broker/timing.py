"""How long a team may take (pure): a phase, and the whole task, from the team's latency.

A phase may take ``factor`` × the slowest member's p95 call latency (at least ``minimum``),
unless the policy fixes it. The latency is what each runner measures of its own calls and
publishes in its card (a probe call when it first goes live, then every call it makes,
with the pool's declared latency as the prior), so on slow hardware the deadlines grow with
the calls, and on fast hardware they shrink. A policy without a ``deadline_s`` gets one
long enough for every round it may run: each of its phases at the phase timeout, plus one
more phase of slack.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.task import Policy
from schemas.team import AgentCard

MAX_DEADLINE_S = 7 * 24 * 3600.0  # the longest deadline a policy may set


def phase_timeout(
    policy: Policy, cards: Sequence[AgentCard], *, minimum: float, factor: float
) -> float:
    """The time a phase may take: the policy's, else ``factor`` × the slowest p95 latency."""
    if policy.phase_timeout_s is not None:
        timeout = policy.phase_timeout_s
    else:
        slowest = max((c.latency_p95_s for c in cards), default=0.0)
        timeout = max(minimum, factor * slowest)
    return min(timeout, policy.deadline_s) if policy.deadline_s is not None else timeout


def phases(policy: Policy) -> int:
    """The phases a task of ``policy`` may run: two per round for nsed (propose, review),
    one for the protocols without review, and moa's aggregation round."""
    if policy.protocol == "nsed":
        return 2 * policy.max_rounds
    if policy.protocol == "vote":
        return 1
    if policy.protocol == "moa":
        return policy.max_rounds + 1
    return policy.max_rounds


def task_deadline(policy: Policy, phase_timeout_s: float) -> float:
    """Seconds the task may take: the policy's, else every phase it may run plus one."""
    if policy.deadline_s is not None:
        return policy.deadline_s
    return min((phases(policy) + 1) * phase_timeout_s, MAX_DEADLINE_S)
