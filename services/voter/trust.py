"""How much each ballot weighs (pure): its reviewer's measured edge over chance, relative to
the most reliable reviewer of the round.

Consumes a round: its seats, each carrying the p_v the broker estimated when it seated the
member (the card's prior, updated by the reviews the gate has measured since, see
``gate/stats.py``), and its valid ballots. Emits the ballots the tally counts, each
with its reviewer's trust t ∈ [0, 1]:

    edge_i = max(0, 2·p_v,i − 1)      0 at chance (p_v ≤ ½), 1 for a reviewer never wrong
    t_i    = edge_i / max_j edge_j    over the reviewers of the round; all 1 when no edge is
                                      positive (then no reviewer is more credible than another)

A seat without an estimate counts as the neutral prior (``DomainPrior().p_v``). Reviewers
of equal p_v all have t = 1: the tally is then exactly unweighted quadratic voting. A
reviewer whose ballots order right and wrong answers no better than chance loses its weight
as its reviews are measured: one that votes every rival down whatever they say states no
preference between them, is measured at ½ (``stats.ordering``: ties count half) and, in
time, can neither promote nor block any answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from schemas.record import RoundState
from schemas.team import DomainPrior, Seat
from services.voter import qv

NEUTRAL_P_V = DomainPrior().p_v


def edge(p_v: float | None) -> float:
    """A reviewer's edge over chance, 2·p_v − 1 clipped to [0, 1]."""
    p = NEUTRAL_P_V if p_v is None else p_v
    if not math.isfinite(p):
        return 0.0
    return min(max(2.0 * p - 1.0, 0.0), 1.0)


def trusts(seats: Iterable[Seat]) -> dict[int, float]:
    """Each seat's trust: its edge over the largest edge among ``seats``."""
    edges = {s.seat: edge(s.p_v) for s in seats}
    top = max(edges.values(), default=0.0)
    if top <= 0.0:
        return dict.fromkeys(edges, 1.0)
    return {seat: e / top for seat, e in edges.items()}


def ballots(cur: RoundState) -> list[qv.QvBallot]:
    """The round's valid ballots as the tally counts them, each with its reviewer's trust."""
    valid = [b for b in cur.ballots if b.valid]
    reviewing = {b.seat for b in valid}
    trust = trusts(s for s in cur.team if s.seat in reviewing)
    return [qv.QvBallot(b.seat, b.agent_id, b.weights, trust=trust.get(b.seat, 1.0)) for b in valid]
