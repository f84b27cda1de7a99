"""Selection candidates built by hand, for the tests of the broker's team selection: ``cand``
gives one agent a value and the traits a constraint looks at, ``POOL`` holds four from strong
to weak, and ``chosen`` reads the agents a selection seated."""

from __future__ import annotations

from services.broker.selection import NoTeam, Selection
from services.broker.valuation import Candidate

from .builders import card


def cand(
    agent_id: str,
    value: float,
    *,
    cost: float = 0.0,
    family: str | None = None,
    latency: float = 1.0,
    capacity: int = 4,
    capabilities: frozenset[str] = frozenset(),
) -> Candidate:
    return Candidate(
        agent_id=agent_id,
        family=family or agent_id,
        value=value,
        round_cost_usd=cost,
        latency_p95_s=latency,
        capacity=capacity,
        capabilities=capabilities,
        card=card(agent_id),
        p_g=min(value, 1.0),
        p_v=0.7,
    )


def chosen(result: Selection | NoTeam) -> list[str]:
    assert isinstance(result, Selection), result
    return [s.agent_id for s in result.seats]


POOL = [cand("strong", 0.9), cand("good", 0.7), cand("fair", 0.5), cand("weak", 0.2)]
