"""Per-agent, per-domain estimates the gate writes after every round (KV ``nsed_telemetry``,
key ``<domain>.<agent_id>``) and the broker reads to choose teams."""

from __future__ import annotations

from schemas.base import Struct


class AgentTelemetry(Struct, frozen=True, kw_only=True):
    agent_id: str
    domain: str
    rounds: int = 0  # rounds the agent held a seat in
    proposals_ok: int = 0
    errors: int = 0  # error or skip proposals
    timeouts: int = 0  # proposals that never came
    wins: int = 0  # rounds its proposal won
    agreed: int = 0  # ok proposals whose answer matched the round's winner
    net_support_sum: float = 0.0  # Σ net support of its ok proposals
    # Peer standing: for each ok proposal reviewed next to others, min(1, share·k/2), its
    # share of the round's positive vote mass against the k proposals (0.5 = an average peer).
    judged: int = 0
    standing_sum: float = 0.0
    reviews_valid: int = 0
    reviews_missing: int = 0  # reviews asked for that timed out or failed
    latency_ewma_s: float = 0.0
    updated_at: float = 0.0

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
