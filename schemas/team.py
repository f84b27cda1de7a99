"""Step 1 — selection: live ``AgentCard``s in KV and the ``TeamSelected`` event."""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.base import AgentId, Backend, Event, Struct
from schemas.limits import (
    MAX_TEAM,
    Count,
    Finite,
    Label,
    Name,
    Reason,
    SeatNumber,
    Usd,
    Warnings,
)

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
# Cards come from any runner that can write the bucket: every number is range-checked when
# decoded (a NaN or an infinity fails every bound), so a bad card is refused, not believed.
Price = Annotated[float, msgspec.Meta(ge=0.0, le=1e6)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=1e7)]
Epoch = Annotated[float, msgspec.Meta(ge=0.0, le=1e11)]


class DomainPrior(Struct, frozen=True, kw_only=True):
    """An agent's declared precision in a domain: generation ``p_g``, verification ``p_v``."""

    p_g: Probability = 0.5
    p_v: Probability = 0.6


class AgentCard(Struct, frozen=True, kw_only=True):
    """One live runner instance of an agent profile (KV ``nsed_agents``, per-key TTL)."""

    agent_id: AgentId
    instance_id: Name
    model: Name
    family: Name
    backend: Backend
    # The policy roles this agent may fill besides ``member`` (its pool entry's ``roles``).
    capabilities: Annotated[tuple[Label, ...], msgspec.Meta(max_length=64)] = ()
    domains: Annotated[dict[Label, DomainPrior], msgspec.Meta(max_length=64)] = msgspec.field(
        default_factory=dict
    )
    price_in_per_mtok: Price = 0.0
    price_out_per_mtok: Price = 0.0
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1
    in_flight: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    context_window: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] = 8192
    latency_s: Seconds = 1.0
    latency_p95_s: Seconds = 2.0
    version: Label = "0"
    started_at: Epoch = 0.0
    updated_at: Epoch = 0.0
    draining: bool = False
    # False while the runner's backend fails (its probe, or several calls in a row): the
    # broker seats only healthy agents. ``health`` says why, in a few words.
    healthy: bool = True
    health: Reason = ""

    def prior(self, domain: str) -> DomainPrior:
        """The prior for ``domain``, else the ``default`` entry, else a neutral prior."""
        return self.domains.get(domain) or self.domains.get("default") or DomainPrior()


class Seat(Struct, frozen=True, kw_only=True):
    seat: SeatNumber
    agent_id: AgentId
    role: Label = "member"
    # The member's estimated precisions for the task's domain when it was seated (§5.5).
    p_g: Probability | None = None
    p_v: Probability | None = None


class TeamSelected(Event, tag="team.selected", frozen=True, kw_only=True):
    seats: Annotated[tuple[Seat, ...], msgspec.Meta(max_length=MAX_TEAM)]
    objective: Finite = 0.0
    expected_cost_usd: Usd = 0.0
    solver_status: Label = "greedy"
    solve_ms: Finite = 0.0
    candidates: Count = 0
    # When the task must end and how long a phase may take, derived from the team's
    # latency unless the policy fixed them: what a watcher waits for.
    deadline_at: Epoch | None = None
    phase_timeout_s: Seconds | None = None
    # What the task, as sent, had that it should not: unknown (misspelt) fields, ignored.
    warnings: Warnings = ()
    # A seat went to a simulated agent: said as soon as the team is known, not only in the
    # result (which says it too).
    simulated: bool = False
