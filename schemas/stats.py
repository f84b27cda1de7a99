"""Per-agent, per-domain estimates the gate writes after every round (KV ``nsed_telemetry``,
key ``<domain>.<agent_id>``) and the broker reads to choose teams.

Values are range-checked when decoded: anyone who can write the bucket could otherwise
hand the broker a negative count or a success rate above one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.base import Struct

Count = Annotated[int, msgspec.Meta(ge=0)]
Amount = Annotated[float, msgspec.Meta(ge=0.0, le=1e12)]
Support = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]


class AgentStats(Struct, frozen=True, kw_only=True):
    agent_id: str
    domain: str
    rounds: Count = 0  # rounds the agent held a seat in
    proposals_ok: Count = 0
    errors: Count = 0  # error or skip proposals
    timeouts: Count = 0  # proposals that never came
    wins: Count = 0  # rounds its proposal won
    agreed: Count = 0  # ok proposals whose answer matched the round's winner
    net_support_sum: Support = 0.0  # Σ net support of its ok proposals
    # Generation: ok proposals judged (right against the reference where there is one, else
    # in the round's supported winning answer) and how many of them were.
    gen_trials: Count = 0
    gen_hits: Count = 0
    # Verification: reviews that could order a winning and a losing proposal, and the
    # share of such pairs each ordered the way the outcome did (ties count half), summed.
    ver_trials: Count = 0
    ver_hits: Amount = 0.0
    reviews_valid: Count = 0
    reviews_missing: Count = 0  # reviews asked for that timed out or failed
    latency_ewma_s: Amount = 0.0
    updated_at: Amount = 0.0

    def __post_init__(self) -> None:
        if self.gen_hits > self.gen_trials or self.ver_hits > self.ver_trials + 1e-9:
            raise ValueError("more hits than trials")
        if self.proposals_ok > self.rounds or self.wins > self.proposals_ok:
            raise ValueError("more ok proposals than rounds, or more wins than ok proposals")

    @property
    def success_rate(self) -> float:
        """Share of seated rounds with an ok proposal (1.0 before any observation)."""
        return self.proposals_ok / self.rounds if self.rounds else 1.0

    @property
    def win_rate(self) -> float:
        return self.wins / self.proposals_ok if self.proposals_ok else 0.0

    @property
    def mean_net_support(self) -> float:
        return self.net_support_sum / self.proposals_ok if self.proposals_ok else 0.0
