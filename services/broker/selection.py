"""Team selection (pure). For now: the ``team_size`` live agents with the best priors for
the task's domain, pinned agents first, at most ``max_per_family`` per family. The CP-SAT
knapsack of §5.1 replaces ``select_team`` behind the same signature.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.task import Policy
from schemas.team import AgentCard, Seat
from services.broker.registry import LiveAgent

# Rough per-call token expectations for cost estimates before any telemetry exists.
EXPECTED_INPUT_TOKENS = 1500
EXPECTED_OUTPUT_TOKENS = 600
CALLS_PER_ROUND = 2  # one proposal and one review per member


@dataclass(frozen=True)
class Selection:
    seats: tuple[Seat, ...]
    cards: tuple[AgentCard, ...]  # one per seat, same order
    objective: float
    expected_cost_usd: float
    status: str
    solve_ms: float
    candidates: int


@dataclass(frozen=True)
class NoTeam:
    reason: str
    candidates: int


def value_of(card: AgentCard, domain: str) -> float:
    prior = card.prior(domain)
    return prior.p_g + 0.1 * prior.p_v  # generation first; verification breaks near-ties


def expected_round_cost(card: AgentCard) -> float:
    per_call = (
        EXPECTED_INPUT_TOKENS * card.price_in_per_mtok
        + EXPECTED_OUTPUT_TOKENS * card.price_out_per_mtok
    ) / 1e6
    return per_call * CALLS_PER_ROUND


def select_team(agents: Sequence[LiveAgent], policy: Policy, domain: str) -> Selection | NoTeam:
    started = time.perf_counter()
    by_id = {a.agent_id: a for a in agents}
    missing = [a for a in policy.pinned_agents if a not in by_id]
    if missing:
        return NoTeam(
            reason=f"pinned agent(s) not live: {', '.join(missing)} ({len(agents)} live agents)",
            candidates=len(agents),
        )
    ranked = sorted(
        agents,
        key=lambda a: (-value_of(a.card, domain), expected_round_cost(a.card), a.agent_id),
    )
    chosen: list[LiveAgent] = [by_id[a] for a in policy.pinned_agents]
    families: dict[str, int] = {}
    for agent in chosen:
        families[agent.card.family] = families.get(agent.card.family, 0) + 1
    for agent in ranked:
        if len(chosen) >= policy.team_size:
            break
        if agent in chosen:
            continue
        if families.get(agent.card.family, 0) >= policy.max_per_family:
            continue
        chosen.append(agent)
        families[agent.card.family] = families.get(agent.card.family, 0) + 1
    if policy.allow_repeat_seats and chosen:
        base = list(chosen)
        while len(chosen) < policy.team_size:
            chosen.append(base[len(chosen) % len(base)])
    if len(chosen) < policy.min_team:
        return NoTeam(
            reason=(
                f"{len(agents)} live agents, {len(chosen)} eligible with at most "
                f"{policy.max_per_family} per family; the task needs at least {policy.min_team}"
            ),
            candidates=len(agents),
        )
    roles = policy.seat_roles()
    seats = tuple(
        Seat(
            seat=i,
            agent_id=a.agent_id,
            role=roles[i] if i < len(roles) else "member",
            p_g=a.card.prior(domain).p_g,
            p_v=a.card.prior(domain).p_v,
        )
        for i, a in enumerate(chosen)
    )
    return Selection(
        seats=seats,
        cards=tuple(a.card for a in chosen),
        objective=round(sum(value_of(a.card, domain) for a in chosen), 6),
        expected_cost_usd=sum(expected_round_cost(a.card) for a in chosen) * policy.max_rounds,
        status="greedy",
        solve_ms=round((time.perf_counter() - started) * 1000, 3),
        candidates=len(agents),
    )


def phase_timeout(
    policy: Policy, cards: Sequence[AgentCard], *, minimum: float, factor: float
) -> float:
    """The time a phase may take: the policy's, else ``factor`` × the slowest p95 latency."""
    if policy.phase_timeout_s is not None:
        return policy.phase_timeout_s
    slowest = max((c.latency_p95_s for c in cards), default=0.0)
    return min(max(minimum, factor * slowest), policy.deadline_s)
