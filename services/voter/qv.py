"""Quadratic-voting tally (pure, §5.3).

For each valid ballot of reviewer i with weights w[i, j]:

    f[i, j] = w[i, j] / Σ_k |w[i, k]|        (0 when the sum is 0): each reviewer spends
                                              exactly its whole budget
    s[i, j] = sign(f[i, j]) · √|f[i, j]|      the vote
    A[j]    = Σ_i r[i] · s[i, j]              r[i] = 1 unless a reputation is given
    ns[j]   = A[j] / (ballots that covered j)
    controversy[j] = variance of s[i, j] over the reviewers that covered j

The winner maximises A; ties go to higher ns, then lower controversy, then the earlier
submission, then the proposal id. Conviction is the winner's share of all positive vote
mass, rescaled so an even split over the k candidates gives 0 and all of it gives 1:
c = max(0, (share − 1/k) / (1 − 1/k)); c = 0 with no positive vote, c = 1 when k = 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QvBallot:
    reviewer: int
    weights: Mapping[str, float]  # proposal id -> weight (every covered proposal present)


@dataclass(frozen=True)
class QvResult:
    scores: dict[str, float]
    net_support: dict[str, float]
    controversy: dict[str, float]
    coverage: dict[str, int]
    votes: dict[int, dict[str, float]]
    winner: str | None
    conviction: float
    unanimous: bool


def credit_shares(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(abs(w) for w in weights.values())
    if total == 0:
        return dict.fromkeys(weights, 0.0)
    return {pid: w / total for pid, w in weights.items()}


def vote(share: float) -> float:
    return math.copysign(math.sqrt(abs(share)), share) if share else 0.0


def tally(
    ballots: Sequence[QvBallot],
    proposals: Sequence[str],
    reputation: Mapping[int, float] | None = None,
) -> QvResult:
    """``proposals``: the round's ok proposal ids in submission order."""
    order = {pid: i for i, pid in enumerate(proposals)}
    votes: dict[int, dict[str, float]] = {}
    for ballot in ballots:
        shares = credit_shares({p: w for p, w in ballot.weights.items() if p in order})
        votes[ballot.reviewer] = {pid: vote(f) for pid, f in shares.items()}
    rep = reputation or {}
    scores = dict.fromkeys(proposals, 0.0)
    columns: dict[str, list[float]] = {pid: [] for pid in proposals}
    for reviewer, row in votes.items():
        for pid, s in row.items():
            scores[pid] += rep.get(reviewer, 1.0) * s
            columns[pid].append(s)
    coverage = {pid: len(col) for pid, col in columns.items()}
    net = {pid: (scores[pid] / coverage[pid] if coverage[pid] else 0.0) for pid in proposals}
    controversy = {pid: _variance(col) for pid, col in columns.items()}
    winner = (
        min(
            proposals,
            key=lambda p: (-scores[p], -net[p], controversy[p], order[p], p),
        )
        if proposals
        else None
    )
    return QvResult(
        scores=scores,
        net_support=net,
        controversy=controversy,
        coverage=coverage,
        votes=votes,
        winner=winner,
        conviction=conviction(votes, winner, len(proposals)),
        unanimous=unanimous(ballots, winner),
    )


def conviction(votes: Mapping[int, Mapping[str, float]], winner: str | None, k: int) -> float:
    if winner is None or k == 0:
        return 0.0
    if k == 1:
        return 1.0
    positive = sum(max(s, 0.0) for row in votes.values() for s in row.values())
    if positive <= 0:
        return 0.0
    share = sum(max(row.get(winner, 0.0), 0.0) for row in votes.values()) / positive
    return max(0.0, (share - 1.0 / k) / (1.0 - 1.0 / k))


def unanimous(ballots: Sequence[QvBallot], winner: str | None) -> bool:
    """Every ballot that could vote for the winner put its largest positive weight on it,
    and at least two did."""
    if winner is None:
        return False
    eligible = [b for b in ballots if winner in b.weights]
    if len(eligible) < 2:
        return False
    return all(
        b.weights[winner] > 0 and b.weights[winner] >= max(b.weights.values()) for b in eligible
    )


def _variance(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)
