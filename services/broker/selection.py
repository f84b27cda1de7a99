"""Team selection (pure, §5.1): a knapsack on OR-tools CP-SAT.

Variables x[a, ρ] put agent a in role ρ (0/1; integer seat counts with
``allow_repeat_seats``). Constraints: each role gets at least one seat and at most its seat
count (a role the policy names is one it wants filled: a smaller team may drop a second
solver, never the only verifier), and the team has between ``min_team`` and ``team_size``
members; an agent holds one seat (unless repeat seats); the expected cost over the planned
rounds stays within ``budget_usd``; at most ``max_per_family`` agents per model family;
pinned agents are in, and a round's survivors keep their seats and roles. Agents too slow
for the phase timeout are left out before the model is built. Free capacity is a
preference, not a filter: a seat on an agent whose every instance was busy at its last
heartbeat costs ``busy_penalty`` of value, so a busy agent is chosen only when it is
clearly better. (Capacity comes from heartbeats up to seconds old, and a busy agent's work
waits in its queue; filtering on it traded quality for a stale snapshot.)

Objective: maximise Σ value·x with cost as a tie-breaker (the cheaper team wins a tie):
integer value in units of 1e-5, times a factor larger than any team's cost in micro-dollars,
minus that cost. Deterministic (one worker, fixed seed), with a time limit, and the status
is checked: a team that cannot exist gets a reason a person understands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from schemas.task import Policy
from schemas.team import AgentCard, Seat
from services.broker.diagnosis import diagnose
from services.broker.valuation import COST_SCALE, Candidate, Valuation

VALUE_SCALE = 100_000  # value resolution: 1e-5
DEFAULT_TIME_LIMIT_S = 1.0


@dataclass(frozen=True)
class Selection:
    seats: tuple[Seat, ...]
    cards: tuple[AgentCard, ...]  # one per seat, same order
    objective: float  # Σ value over the seats
    expected_cost_usd: float  # over the planned rounds
    status: str  # the solver's: OPTIMAL or FEASIBLE
    solve_ms: float
    candidates: int
    score: int = 0  # the integer objective the solver maximised


@dataclass(frozen=True)
class NoTeam:
    reason: str
    candidates: int


@dataclass(frozen=True)
class Problem:
    """The selection problem as the solver sees it, after the pre-filters."""

    candidates: Sequence[Candidate]
    roles: Mapping[str, int]
    min_team: int
    team_size: int
    rounds: int
    budget_micro: int | None
    max_per_family: int
    repeat: bool
    pinned: frozenset[str] = frozenset()
    fixed: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # agent → (seat, role)
    busy_penalty: float = 0.0

    def cost_micro(self, c: Candidate) -> int:
        return math.ceil(c.round_cost_usd * self.rounds * COST_SCALE)

    def value_units(self, c: Candidate) -> int:
        busy = c.capacity <= 0 and c.agent_id not in self.pinned and c.agent_id not in self.fixed
        return round((c.value - (self.busy_penalty if busy else 0.0)) * VALUE_SCALE)

    @property
    def cost_factor(self) -> int:
        """Larger than any team's cost: value always outranks cost."""
        worst = max((self.cost_micro(c) for c in self.candidates), default=0)
        return 1 + self.team_size * worst

    def score(self, seats: Sequence[tuple[Candidate, str]]) -> int:
        factor = self.cost_factor
        return sum(self.value_units(c) * factor - self.cost_micro(c) for c, _ in seats)


def planned_rounds(policy: Policy, valuation: Valuation) -> int:
    return min(policy.max_rounds, max(policy.min_rounds, valuation.expected_rounds))


def role_counts(policy: Policy) -> dict[str, int]:
    return dict(policy.roles) if policy.roles is not None else {"member": policy.team_size}


def select_team(
    candidates: Sequence[Candidate],
    policy: Policy,
    *,
    valuation: Valuation | None = None,
    phase_timeout_s: float | None = None,
    fixed: Mapping[str, tuple[int, str]] | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> Selection | NoTeam:
    """The best team from ``candidates``; ``fixed`` seats survivors of the previous round."""
    started = time.perf_counter()
    valuation = valuation or Valuation()
    fixed = dict(fixed or {})
    live = {c.agent_id: c for c in candidates}
    must = set(policy.pinned_agents) | set(fixed)
    missing = sorted(must - set(live))
    if missing:
        return NoTeam(
            f"pinned agent(s) not live: {', '.join(missing)} ({len(live)} live agents)",
            len(live),
        )
    budget = policy.budget_usd
    problem = Problem(
        candidates=[],
        roles=role_counts(policy),
        min_team=policy.min_team,
        team_size=policy.team_size,
        rounds=planned_rounds(policy, valuation),
        budget_micro=None if budget is None else math.floor(budget * COST_SCALE),
        max_per_family=policy.max_per_family,
        repeat=policy.allow_repeat_seats,
        pinned=frozenset(policy.pinned_agents),
        fixed=fixed,
        busy_penalty=valuation.busy_penalty,
    )
    fast = [
        c
        for c in candidates
        if phase_timeout_s is None or c.latency_p95_s <= phase_timeout_s or c.agent_id in must
    ]
    if not fast or (len(fast) < policy.min_team and not policy.allow_repeat_seats):
        why = (
            f"{len(live)} live agents"
            if phase_timeout_s is None or len(fast) == len(live)
            else f"{len(live)} live agents, {len(fast)} fast enough for the "
            f"{phase_timeout_s:g}s phase timeout"
        )
        return NoTeam(f"{why}; the task needs at least {policy.min_team}", len(live))
    solved = _with(problem, fast)
    found = solve(solved, time_limit_s)
    if found is not None:
        seats, status = found
        return _selection(solved, seats, status, len(live), started)
    return NoTeam(diagnose(solved, len(live)), len(live))


def _with(problem: Problem, pool: Sequence[Candidate]) -> Problem:
    return Problem(
        candidates=list(pool),
        roles=problem.roles,
        min_team=problem.min_team,
        team_size=problem.team_size,
        rounds=problem.rounds,
        budget_micro=problem.budget_micro,
        max_per_family=problem.max_per_family,
        repeat=problem.repeat,
        pinned=problem.pinned,
        fixed=problem.fixed,
        busy_penalty=problem.busy_penalty,
    )


def solve(problem: Problem, time_limit_s: float) -> tuple[list[tuple[Candidate, str]], str] | None:
    """The optimal (or best found) seats as (candidate, role) pairs, or None if none exist."""
    # Data.
    cands = list(problem.candidates)
    roles = sorted(problem.roles)
    factor = problem.cost_factor
    # Model and variables.
    model = cp_model.CpModel()
    x: dict[tuple[int, str], cp_model.IntVar] = {}
    for i, c in enumerate(cands):
        for role in roles:
            if c.can_take(role):
                top = problem.roles[role] if problem.repeat else 1
                x[i, role] = model.new_int_var(0, top, f"x_{i}_{role}")
    if not x:
        return None
    # Whether an agent is in the team at all: what diversity and pinning count.
    seated: dict[int, Any] = {}
    for i in range(len(cands)):
        mine = [x[i, r] for r in roles if (i, r) in x]
        if not mine:
            continue
        if problem.repeat:
            seated[i] = model.new_bool_var(f"in_{i}")
            model.add(sum(mine) >= 1).only_enforce_if(seated[i])
            model.add(sum(mine) == 0).only_enforce_if(seated[i].Not())
        else:
            model.add(sum(mine) <= 1)
            seated[i] = sum(mine)
    # Constraints.
    for role in roles:
        takers = [x[i, role] for i in range(len(cands)) if (i, role) in x]
        if not takers:
            return None
        model.add(sum(takers) >= 1)
        model.add(sum(takers) <= problem.roles[role])
    total = sum(x.values())
    model.add(total >= problem.min_team)
    model.add(total <= problem.team_size)
    if problem.budget_micro is not None:
        model.add(
            sum(problem.cost_micro(cands[i]) * v for (i, _), v in x.items()) <= problem.budget_micro
        )
    families: dict[str, list[int]] = {}
    for i in seated:
        families.setdefault(cands[i].family, []).append(i)
    for members in families.values():
        if len(members) > problem.max_per_family:
            model.add(sum(seated[i] for i in members) <= problem.max_per_family)
    for i, c in enumerate(cands):
        if c.agent_id in problem.pinned:
            if i not in seated:
                return None
            model.add(seated[i] >= 1)
        if c.agent_id in problem.fixed:
            _, role = problem.fixed[c.agent_id]
            if (i, role) not in x:
                return None
            model.add(x[i, role] >= 1)
    # Objective: value first, then the lower cost.
    model.maximize(
        sum(
            (problem.value_units(cands[i]) * factor - problem.cost_micro(cands[i])) * v
            for (i, _), v in x.items()
        )
    )
    # Solve, deterministically and within a time limit.
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    # Extract.
    seats = [(cands[i], role) for (i, role), v in x.items() for _ in range(solver.value(v))]
    return seats, solver.status_name(status)


def _selection(
    problem: Problem,
    seats: list[tuple[Candidate, str]],
    status: str,
    live: int,
    started: float,
) -> Selection:
    taken = {seat for seat, _ in problem.fixed.values()}
    placed: list[tuple[int, Candidate, str]] = []
    newcomers = []
    for cand, role in seats:
        kept = problem.fixed.get(cand.agent_id)
        if kept is not None and kept[1] == role and kept[0] not in {s for s, _, _ in placed}:
            placed.append((kept[0], cand, role))
        else:
            newcomers.append((cand, role))
    newcomers.sort(key=lambda s: (s[1], -s[0].value, s[0].agent_id))
    free = (n for n in range(len(seats) + len(taken) + 1) if n not in taken)
    for cand, role in newcomers:
        placed.append((next(free), cand, role))
    placed.sort(key=lambda s: s[0])
    return Selection(
        seats=tuple(
            Seat(seat=n, agent_id=c.agent_id, role=role, p_g=round(c.p_g, 6), p_v=round(c.p_v, 6))
            for n, c, role in placed
        ),
        cards=tuple(c.card for _, c, _ in placed),
        objective=round(sum(c.value for _, c, _ in placed), 6),
        expected_cost_usd=round(sum(c.round_cost_usd for _, c, _ in placed) * problem.rounds, 8),
        status=status,
        solve_ms=round((time.perf_counter() - started) * 1000, 3),
        candidates=live,
        score=problem.score([(c, r) for _, c, r in placed]),
    )
