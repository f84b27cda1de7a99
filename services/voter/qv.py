"""Quadratic voting on answers (pure, §5.3).

Proposals are grouped into options: one per distinct answer where the answer format has an
extractable answer (integer, choice), one per proposal for free text and code. A reviewer's
weight on an option is the mean of its weights on the option's proposals it reviewed, so
backing two proposals of the same answer is one opinion of that answer, not two.

For each counted ballot of reviewer i, over the options o it covered:

    f[i, o] = w[i, o] / Σ_p |w[i, p]|        each reviewer spends exactly its whole budget
    s[i, o] = t_i · sign(f[i, o]) · √|f[i, o]|   the vote, scaled by the reviewer's trust
    A[o]    = Σ_i s[i, o]                    the option's score

The trust t_i ∈ [0, 1] is the reviewer's measured edge over chance relative to the round's
most reliable reviewer (``trust``); 1 for every reviewer of equal p_v, which leaves the
tally exactly unweighted. A ballot's influence is bounded by it: adding a ballot changes
any option's score by at most t_i, whatever its weights.

Rules that keep the vote from being gamed:

- self-exclusion is by agent: a reviewer's weights on proposals of its own agent (its own
  seat, or another seat of the same model) are ignored;
- a ballot that states no preference abstains and does not count toward quorum: all its
  weights zero, or the same weight on two or more options;
- negative weights only take support away: an option leads only with a positive score,
  so voting every rival down promotes nobody (with no positive score there is no
  supported winner);
- ties are broken by a hash seeded with the task and round, never by arrival order;
- a ballot of trust 0 (a reviewer measured no better than chance) counts toward quorum but
  carries no vote: it changes no score.

The winner is the leading option's best-scored proposal. Conviction is the leading
option's share of all positive score, c = max(A_w, 0) / Σ_o max(A_o, 0) (0 when nothing is
positive). A round is unanimous when it has a supported winner and, by answer, every ok
proposal gives the same answer (two or more of them); for free text, when two or more
counted ballots put their largest weight on the winner.

``plurality`` is the tally of the protocols without review (vote, moa, debate), over the
same options: an option's score is the number of ok proposals giving it; the largest
option leads (ties by the same seeded hash), and its first proposal by that hash is the
winner. Any ok proposal makes a supported winner; conviction is the winner's share of the
ok proposals; unanimous means every ok proposal in one option, two or more of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from services.core.rng import stable_hex


@dataclass(frozen=True)
class QvBallot:
    reviewer: int  # the reviewer's seat
    agent: str  # the reviewer's agent: it never votes on its own proposals
    weights: Mapping[str, float]  # proposal id -> weight
    trust: float = 1.0  # the reviewer's trust in [0, 1] (``trust``): scales its votes


@dataclass(frozen=True)
class Entry:
    """An ok proposal of the round, in submission order."""

    proposal_id: str
    agent: str
    key: str  # its option: the normalised answer, or its own id for free text
    answer: str | None = None


@dataclass(frozen=True)
class OptionScore:
    key: str
    answer: str | None
    proposals: tuple[str, ...]
    score: float  # A[o]
    net_support: float  # A[o] / ballots that covered it
    ballots: int


@dataclass(frozen=True)
class QvResult:
    options: tuple[OptionScore, ...]  # in order of first proposal
    scores: dict[str, float]  # per proposal: Σ_i of its own vote s[i, j]
    net_support: dict[str, float]
    controversy: dict[str, float]
    coverage: dict[str, int]
    votes: dict[int, dict[str, float]]  # reviewer seat -> proposal id -> s[i, j] (t_i > 0)
    counted: tuple[int, ...]  # seats whose ballots counted (toward quorum, t_i = 0 too)
    abstained: tuple[int, ...]  # seats whose ballots stated no preference
    winner: str | None  # the leading option's best proposal (supported or not)
    winner_key: str | None
    supported: bool  # the leading option's score is positive
    conviction: float
    unanimous: bool


def credit_shares(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(abs(w) for w in weights.values())
    if total == 0:
        return dict.fromkeys(weights, 0.0)
    return {key: w / total for key, w in weights.items()}


def vote(share: float) -> float:
    return math.copysign(math.sqrt(abs(share)), share) if share else 0.0


def bounded_trust(trust: float) -> float:
    """A ballot's trust in [0, 1]; a non-finite one carries no weight."""
    return min(max(trust, 0.0), 1.0) if math.isfinite(trust) else 0.0


def own_weights(ballot: QvBallot, entries: Mapping[str, Entry]) -> dict[str, float]:
    """The ballot's finite weights on proposals it may judge (known, not its agent's)."""
    return {
        pid: float(w)
        for pid, w in ballot.weights.items()
        if pid in entries and entries[pid].agent != ballot.agent and math.isfinite(w)
    }


def option_weights(weights: Mapping[str, float], entries: Mapping[str, Entry]) -> dict[str, float]:
    """Per option, the mean weight over the option's proposals the ballot covered."""
    grouped: dict[str, list[float]] = {}
    for pid, w in weights.items():
        grouped.setdefault(entries[pid].key, []).append(w)
    return {key: sum(ws) / len(ws) for key, ws in grouped.items()}


def abstains(by_option: Mapping[str, float]) -> bool:
    """No preference stated: nothing covered, every weight zero, or one weight on 2+ options."""
    values = list(by_option.values())
    if not values or all(w == 0 for w in values):
        return True
    return len(values) >= 2 and max(values) - min(values) <= 1e-9


def tally(
    ballots: Sequence[QvBallot], proposals: Sequence[Entry], *, by_answer: bool, seed: str
) -> QvResult:
    entries = {e.proposal_id: e for e in proposals}
    keys = list(dict.fromkeys(e.key for e in proposals))
    members = {k: tuple(e.proposal_id for e in proposals if e.key == k) for k in keys}
    # Votes are summed with fsum (exactly rounded): a float sum in arrival order could turn
    # a tiny vote next to a +1 and a -1 into 0 or not, deciding a tie by who came first.
    option_votes: dict[str, list[float]] = {k: [] for k in keys}
    columns: dict[str, list[float]] = {pid: [] for pid in entries}
    votes: dict[int, dict[str, float]] = {}
    counted: list[int] = []
    abstained: list[int] = []
    for ballot in ballots:
        weights = own_weights(ballot, entries)
        by_option = option_weights(weights, entries)
        if abstains(by_option):
            abstained.append(ballot.reviewer)
            continue
        counted.append(ballot.reviewer)
        trust = bounded_trust(ballot.trust)
        if trust == 0.0:
            continue
        for key, share in credit_shares(by_option).items():
            option_votes[key].append(trust * vote(share))
        row = {pid: trust * vote(f) for pid, f in credit_shares(weights).items()}
        votes[ballot.reviewer] = row
        for pid, s in row.items():
            columns[pid].append(s)
    option_score = {k: math.fsum(v) for k, v in option_votes.items()}
    option_cover = {k: len(v) for k, v in option_votes.items()}
    scores = {pid: math.fsum(col) for pid, col in columns.items()}
    coverage = {pid: len(col) for pid, col in columns.items()}
    net = {pid: scores[pid] / coverage[pid] if coverage[pid] else 0.0 for pid in entries}
    options = tuple(
        OptionScore(
            key=k,
            answer=entries[members[k][0]].answer,
            proposals=members[k],
            score=option_score[k],
            net_support=option_score[k] / option_cover[k] if option_cover[k] else 0.0,
            ballots=option_cover[k],
        )
        for k in keys
    )
    leader = _first(options, lambda o: (-o.score, -o.net_support, _tie(seed, o.key)))
    winner = None
    if leader is not None:
        winner = min(leader.proposals, key=lambda p: (-scores[p], -net[p], _tie(seed, p)))
    supported = leader is not None and leader.score > 0
    return QvResult(
        options=options,
        scores=scores,
        net_support=net,
        controversy={pid: _variance(col) for pid, col in columns.items()},
        coverage=coverage,
        votes=votes,
        counted=tuple(counted),
        abstained=tuple(abstained),
        winner=winner,
        winner_key=leader.key if leader else None,
        supported=supported,
        conviction=conviction(options, leader),
        unanimous=supported
        and (
            len(options) == 1 and len(proposals) >= 2
            if by_answer
            else _top_choice_of_all(votes, winner)
        ),
    )


def plurality(proposals: Sequence[Entry], *, seed: str) -> QvResult:
    """The plurality answer of a round without review (self-consistency, majority)."""
    keys = list(dict.fromkeys(e.key for e in proposals))
    members = {k: tuple(e.proposal_id for e in proposals if e.key == k) for k in keys}
    total = len(proposals)
    options = tuple(
        OptionScore(
            key=k,
            answer=next(e.answer for e in proposals if e.key == k),
            proposals=members[k],
            score=float(len(members[k])),
            net_support=len(members[k]) / total,
            ballots=0,
        )
        for k in keys
    )
    leader = _first(options, lambda o: (-o.score, 0.0, _tie(seed, o.key)))
    winner = min(leader.proposals, key=lambda p: _tie(seed, p)) if leader else None
    # A proposal's score is its option's: the number of proposals that agree with it.
    of_option = {pid: o for o in options for pid in o.proposals}
    return QvResult(
        options=options,
        scores={e.proposal_id: of_option[e.proposal_id].score for e in proposals},
        net_support={e.proposal_id: of_option[e.proposal_id].net_support for e in proposals},
        controversy=dict.fromkeys((e.proposal_id for e in proposals), 0.0),
        coverage=dict.fromkeys((e.proposal_id for e in proposals), 0),
        votes={},
        counted=(),
        abstained=(),
        winner=winner,
        winner_key=leader.key if leader else None,
        supported=leader is not None,
        conviction=leader.score / total if leader else 0.0,
        unanimous=len(options) == 1 and total >= 2,
    )


def conviction(options: Sequence[OptionScore], leader: OptionScore | None) -> float:
    """The leading option's share of all positive score (0 when it has none)."""
    positive = math.fsum(max(o.score, 0.0) for o in options)
    if leader is None or leader.score <= 0 or positive <= 0:
        return 0.0
    return min(1.0, leader.score / positive)


def _top_choice_of_all(votes: Mapping[int, Mapping[str, float]], winner: str | None) -> bool:
    """Free text: two or more counted ballots could vote for the winner, and each put its
    largest vote on it."""
    eligible = [row for row in votes.values() if winner in row]
    if winner is None or len(eligible) < 2:
        return False
    return all(row[winner] > 0 and row[winner] >= max(row.values()) for row in eligible)


def _tie(seed: str, key: str) -> str:
    return stable_hex(seed, key, size=8)


def _first(
    options: Sequence[OptionScore], order: Callable[[OptionScore], tuple[float, float, str]]
) -> OptionScore | None:
    return min(options, key=order) if options else None


def _variance(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)
