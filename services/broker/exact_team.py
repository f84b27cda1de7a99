"""An exact team (pure): ``Policy.team`` seated as it is, without optimisation.

Consumes the live candidates and the policy; emits a ``Selection`` whose seat i holds
``team[i]`` in the role ``policy.seat_roles()[i]`` (``member`` without roles; an agent
named twice holds two seats, as Self-MoA needs), or ``NoTeam`` naming the agents that are
not live or the seat whose agent may not fill its role. A study that compares protocols
pins its team this way, so that every protocol runs on the same seats; budget, families,
latency and capacity are the study's business, not the broker's. The gate's budget and
deadline stops still apply.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from schemas.task import Policy
from schemas.team import Seat
from services.broker.selection import NoTeam, Selection, planned_rounds
from services.broker.valuation import Candidate, Valuation

STATUS = "EXACT"  # TeamSelected.solver_status of a team seated as given


def seat_exact(
    candidates: Sequence[Candidate], policy: Policy, valuation: Valuation | None = None
) -> Selection | NoTeam:
    started = time.perf_counter()
    live = {c.agent_id: c for c in candidates}
    missing = sorted(set(policy.team) - set(live))
    if missing:
        return NoTeam(
            f"team agent(s) not live: {', '.join(missing)} ({len(live)} live agents); "
            "a given team is seated exactly or not at all",
            len(live),
        )
    chosen = [live[agent_id] for agent_id in policy.team]
    roles = policy.seat_roles()
    for n, (c, role) in enumerate(zip(chosen, roles, strict=True)):
        if not c.can_take(role):
            return NoTeam(
                f"team agent {c.agent_id} cannot take the role {role!r} of seat {n} "
                "(roles go to seats in order, sorted by name; its pool entry lists "
                f"{', '.join(sorted(c.capabilities)) or 'no roles'})",
                len(live),
            )
    rounds = planned_rounds(policy, valuation or Valuation())
    return Selection(
        seats=tuple(
            Seat(seat=n, agent_id=c.agent_id, role=role, p_g=round(c.p_g, 6), p_v=round(c.p_v, 6))
            for n, (c, role) in enumerate(zip(chosen, roles, strict=True))
        ),
        cards=tuple(c.card for c in chosen),
        objective=round(sum(c.value for c in chosen), 6),
        expected_cost_usd=round(sum(c.round_cost_usd for c in chosen) * rounds, 8),
        status=STATUS,
        solve_ms=round((time.perf_counter() - started) * 1000, 3),
        candidates=len(live),
    )
