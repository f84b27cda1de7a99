"""What one seat of an agent is expected to bring (pure): quality, cost, and the candidate
the solver sees.

Quality rests on two Beta posteriors for the task's domain, each in its own unit and each
starting from the card's prior with the weight of ``prior_strength`` observations:

- p_g, the probability that the agent's proposal is right: updated by the gate's
  stats with its judged proposals (right against the reference, or in the round's
  supported winning answer);
- p_v, the probability that its review orders a winning and a losing proposal the way the
  outcome did (0.5 is chance): updated with its reviews' pair orderings.

Selection uses p_g optimistically (mean + ``explore`` standard deviations, a deterministic
UCB), so an agent nobody has tried yet still gets seats until the evidence says otherwise,
times the agent's success rate (ok proposals per seated round, Laplace-smoothed), plus a
tenth of the p_v mean. The seats carry both means, and the gate's halting model uses them.

Cost is the expected dollars per seat per round: ``input_tokens`` and ``output_tokens``
for each of the two calls (propose, review) at the card's prices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.stats import AgentStats
from schemas.team import AgentCard
from services.broker.registry import LiveAgent

CALLS_PER_ROUND = 2
COST_SCALE = 1_000_000  # the solver counts costs in micro-dollars (integers)


@dataclass(frozen=True)
class Valuation:
    """The broker's knobs for valuing agents (``NSED_BROKER_*``)."""

    prior_strength: float = 10.0  # the card's prior counts as this many observations
    explore: float = 1.0  # UCB: standard deviations of optimism
    input_tokens: int = 1500  # expected per call, before any is measured
    output_tokens: int = 600
    expected_rounds: int = 3  # the budget must cover this many rounds (or max_rounds)
    busy_penalty: float = 0.05  # value a seat loses on an agent with no free capacity


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    family: str
    value: float  # what the solver maximises
    round_cost_usd: float
    latency_p95_s: float
    capacity: int
    capabilities: frozenset[str]
    card: AgentCard
    p_g: float = 0.5  # the posterior mean (no optimism): the gate's halting model uses it
    p_v: float = 0.6

    def can_take(self, role: str) -> bool:
        return role == "member" or role in self.capabilities


def beta_mean(prior: float, strength: float, hits: float, trials: float) -> float:
    """The mean of Beta(strength·prior + hits, strength·(1 − prior) + trials − hits)."""
    return (strength * prior + hits) / (strength + trials)


def posterior_p_g(card: AgentCard, seen: AgentStats | None, domain: str, v: Valuation) -> float:
    hits, trials = (seen.gen_hits, seen.gen_trials) if seen else (0, 0)
    return beta_mean(card.prior(domain).p_g, v.prior_strength, hits, trials)


def posterior_p_v(card: AgentCard, seen: AgentStats | None, domain: str, v: Valuation) -> float:
    hits, trials = (seen.ver_hits, seen.ver_trials) if seen else (0.0, 0)
    return beta_mean(card.prior(domain).p_v, v.prior_strength, hits, trials)


def quality(card: AgentCard, seen: AgentStats | None, domain: str, v: Valuation) -> float:
    trials = seen.gen_trials if seen else 0
    mean = posterior_p_g(card, seen, domain, v)
    spread = math.sqrt(mean * (1.0 - mean) / (v.prior_strength + trials + 1.0))
    success_rate = ((seen.proposals_ok if seen else 0) + 1.0) / ((seen.rounds if seen else 0) + 1.0)
    p_v = posterior_p_v(card, seen, domain, v)
    return (min(mean + v.explore * spread, 1.0)) * success_rate + 0.1 * p_v


def round_cost(card: AgentCard, v: Valuation) -> float:
    per_call = (
        v.input_tokens * card.price_in_per_mtok + v.output_tokens * card.price_out_per_mtok
    ) / 1e6
    return per_call * CALLS_PER_ROUND


def candidates(
    agents: Sequence[LiveAgent],
    stats: Mapping[str, AgentStats],
    domain: str,
    v: Valuation,
) -> list[Candidate]:
    """One candidate per live agent; ``stats`` is keyed ``<domain>.<agent_id>``."""
    out = []
    for agent in agents:
        card = agent.card
        seen = stats.get(f"{domain}.{agent.agent_id}")
        out.append(
            Candidate(
                agent_id=agent.agent_id,
                family=card.family,
                value=quality(card, seen, domain, v),
                round_cost_usd=round_cost(card, v),
                latency_p95_s=card.latency_p95_s,
                capacity=agent.capacity,
                capabilities=frozenset(card.capabilities),
                card=card,
                p_g=posterior_p_g(card, seen, domain, v),
                p_v=posterior_p_v(card, seen, domain, v),
            )
        )
    return sorted(out, key=lambda c: c.agent_id)
