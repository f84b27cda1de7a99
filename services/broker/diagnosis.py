"""Why no team can serve a task (pure), in terms of the constraint that bites first: the
budget, the per-family limit, a role nobody can take, too few eligible agents, or pinned
agents that crowd one family. ``select_team`` calls it when CP-SAT finds no team."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from services.broker.valuation import COST_SCALE

if TYPE_CHECKING:  # selection calls this module; the type is only named here
    from services.broker.selection import Problem


def diagnose(problem: Problem, live: int) -> str:
    """Why no team exists, in terms of the constraint that bites first."""
    cands = list(problem.candidates)
    need = problem.min_team
    if problem.budget_micro is not None:
        fits = [c for c in cands if problem.cost_micro(c) <= problem.budget_micro]
        cheapest = sorted(problem.cost_micro(c) for c in cands)
        if problem.repeat:
            lowest = cheapest[0] * need if cheapest else None
        else:
            lowest = sum(cheapest[:need]) if len(cheapest) >= need else None
        if lowest is None or lowest > problem.budget_micro:
            budget = problem.budget_micro / COST_SCALE
            cost = (
                ""
                if lowest is None
                else (
                    f"; the cheapest team of {need} costs ${lowest / COST_SCALE:.6g} "
                    f"over {problem.rounds} round(s)"
                )
            )
            return f"{live} live agents, {len(fits)} fit a budget of ${budget:g}{cost}"
    if not problem.repeat:
        per_family = Counter(c.family for c in cands)
        room = sum(min(n, problem.max_per_family) for n in per_family.values())
        if room < need:
            return (
                f"{live} live agents in {len(per_family)} families; with at most "
                f"{problem.max_per_family} per family {room} can sit, the task needs {need}"
            )
    for role in sorted(problem.roles):
        if not any(c.can_take(role) for c in cands):
            return f"{live} live agents, none can take the role {role!r}"
    if len(cands) < need and not problem.repeat:
        return f"{live} live agents, {len(cands)} eligible; the task needs at least {need}"
    pinned = sorted(problem.pinned | set(problem.fixed))
    if pinned:
        families = Counter(c.family for c in cands if c.agent_id in pinned)
        crowded = [f for f, n in families.items() if n > problem.max_per_family]
        if crowded:
            return f"pinned agents share the family {crowded[0]!r} beyond max_per_family"
    return (
        f"{live} live agents, but no team of {need}–{problem.team_size} meets the budget, "
        "the per-family limit, the roles and the pinned agents together"
    )
