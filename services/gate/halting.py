"""Halting (pure, §5.5): the efficiency–fatigue model and the decision after each round.

With the team's generation precision p_g (the probability that a proposal is right) and
verification precision p_v (the probability that a review orders a right and a wrong
proposal correctly; 0.5 is chance), the means of the members' domain estimates,
k = Λ·(2·p_v − 1) (``extraction_rate``, the one place the formula lives):

    U(t)   = 1 − (1 − p_g)·e^(−k·t) − β·t²         signal extraction minus context fatigue
    T_opt  = W₀((1 − p_g)·k² / (2β)) / k           where U′(T_opt) = 0 (W₀: principal branch)
    B      = U(T_opt) − U(0)                        the signal there is to extract
    ΔE(r)  = max(c_r, 0)·(U(r) − U(r−1))            evidence added by round r (c_r: conviction)

After round r the deliberation stops, in this order of precedence, when:

    no_quorum   the round fell below quorum (it cannot go on; degraded)
    max_rounds  r = max_rounds
    converged   r ≥ min_rounds and the ballots were unanimous for the winner
    evidence    r ≥ min_rounds and E(r) ≥ ε·B
    fatigue     r ≥ min_rounds and r ≥ ⌈T_opt⌉: past the peak every round lowers U
    efficiency  r ≥ min_rounds and U(r+1) − U(r) < min_gain: another round is expected to
                add too little (reviews near chance make k, and every gain, small)
                (when p_v ≤ 0.5 reviews carry no signal, k ≤ 0 and no round is worth
                it: T_opt = 0)
    budget      the spend plus another round like the last would exceed ``budget_usd``
    deadline    another round like the last would end past the deadline

Λ and β are the gate's settings (``NSED_GATE_FATIGUE_LAMBDA``, ``NSED_GATE_FATIGUE_BETA``);
their defaults, Λ = 0.8 and β = 0.0013, put T_opt near round 5–6 (5.6) for p_g = 0.55 and
p_v = 0.8, where the paper sees quality peak. β ≤ 0 means no context fatigue: U rises
towards 1 without a peak, T_opt = ∞ (the fatigue stop never fires) and B is its limit 1 − p_g.
A fit of accuracy by round may well print a negative β (``services/bench/fit.py``); the
model holds it as 0, since U growing without bound is no fatigue at all.

The rule is total: whatever floats reach it (a bad card, corrupt stats, a setting
validated nowhere), every function here returns a finite decision and never raises.
Probabilities are clamped into [0, 1], NaN stands for "unknown" (the neutral prior, the
default setting, or no evidence), and every value written to the record is finite, since
JSON has no spelling for ±inf or NaN (msgspec writes them as ``null``, which a ``float``
field then refuses to read back). The one infinite value, T_opt for β ≤ 0, is never
written as a number (``Halting.t_opt`` is ``None`` then).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.gate import StopReason
from schemas.tally import TallyComputed
from schemas.task import Policy
from schemas.team import DomainPrior
from services.gate.lambert import w0_of_log

DEFAULT_LAMBDA = 0.8
DEFAULT_BETA = 0.0013
_MAX = sys.float_info.max
_EXP_MAX = math.log(_MAX)  # math.exp raises OverflowError above this
_NEUTRAL = DomainPrior()
_DEFAULT_EFFORT = Policy().effort


def _unit(x: float, nan: float) -> float:
    """``x`` clamped into [0, 1]; NaN (unknown) becomes ``nan``."""
    return nan if math.isnan(x) else min(max(x, 0.0), 1.0)


def _non_negative(x: float, nan: float) -> float:
    """``x`` clamped into [0, max float]: finite, so it can be written to the record."""
    return nan if math.isnan(x) else min(max(x, 0.0), _MAX)


def _time(t: float) -> float:
    """A round count as a finite float ≥ 0: U is defined from t = 0 on, and a finite t
    keeps k·t and β·t·t free of NaN (0·∞)."""
    try:
        value = float(t)
    except OverflowError:  # an int past the float range
        value = _MAX if t > 0 else 0.0
    return 0.0 if math.isnan(value) else min(max(value, 0.0), _MAX)


def extraction_rate(lam: float, p_v: float) -> float:
    """k = Λ·(2·p_v − 1): how fast reviews extract the signal. 2·p_v − 1 is how far a
    review's ordering of a right and a wrong proposal is from chance (p_v = 0.5); at or below
    chance reviews carry no signal and k ≤ 0. The bench's fit uses this same function."""
    return lam * (2.0 * p_v - 1.0)


def _exp(x: float) -> float:
    return math.inf if x > _EXP_MAX else math.exp(x)


@dataclass(frozen=True)
class FatigueModel:
    """U(t) of one team. Whatever it is built from, it holds p_g, p_v in [0, 1] and finite
    Λ, β ≥ 0 (see ``__post_init__``), so everything derived from it is free of NaN. A β ≤ 0
    is held as 0: no context fatigue, T_opt = ∞."""

    p_g: float
    p_v: float
    lam: float = DEFAULT_LAMBDA
    beta: float = DEFAULT_BETA

    def __post_init__(self) -> None:
        # An unknown precision is the neutral prior a card starts from, and an unknown
        # setting its default. A negative Λ extracts nothing (k = 0: stop at min_rounds);
        # a negative β (which a fit may print) would reward length without bound, which is
        # no fatigue at all: it is held as β = 0, T_opt = ∞.
        object.__setattr__(self, "p_g", _unit(self.p_g, _NEUTRAL.p_g))
        object.__setattr__(self, "p_v", _unit(self.p_v, _NEUTRAL.p_v))
        object.__setattr__(self, "lam", _non_negative(self.lam, DEFAULT_LAMBDA))
        object.__setattr__(self, "beta", _non_negative(self.beta, DEFAULT_BETA))

    @property
    def k(self) -> float:
        return extraction_rate(self.lam, self.p_v)  # finite: |2·p_v − 1| ≤ 1, Λ ≤ max float

    def utility(self, t: float) -> float:
        """U(t), in [−∞, 1]: −∞ once fatigue (or k < 0) overflows, never NaN."""
        t = _time(t)
        # 1 − p_g = 0 would turn an overflowing exponential into 0·∞.
        extracted = 0.0 if self.p_g >= 1.0 else (1.0 - self.p_g) * _exp(-self.k * t)
        return 1.0 - extracted - self.beta * t * t  # (β·t)·t: 0 when β = 0, never 0·∞

    def t_opt(self) -> float:
        """The round that maximises U: 0 when reviews carry no signal (k ≤ 0) or there is
        nothing left to extract (p_g = 1), ∞ when nothing tires the team (β = 0, which a
        negative β is held as); otherwise finite (or ∞ past the float range)."""
        k = self.k
        if k <= 0.0 or self.p_g >= 1.0:
            return 0.0
        if self.beta == 0.0:
            return math.inf
        # ln of (1 − p_g)·k²/(2β), term by term: k² and 1/β overflow long before the sum.
        log_x = math.log1p(-self.p_g) + 2.0 * math.log(k) - math.log(2.0) - math.log(self.beta)
        return w0_of_log(log_x) / k

    def signal(self) -> float:
        """B, in [0, 1 − p_g]: the most any number of rounds can extract."""
        t = self.t_opt()
        if t == 0.0:
            return 0.0
        if math.isinf(t):
            return 1.0 - self.p_g  # the limit of U(T_opt) − U(0) as β → 0
        return min(max(self.utility(t) - self.utility(0.0), 0.0), 1.0 - self.p_g)

    def gain(self, round_number: int, conviction: float) -> float:
        """ΔE(r): the evidence round ``round_number`` adds at conviction c_r, in [−1, 1]."""
        if round_number < 1:
            return 0.0
        # c_r is a share of votes, in [0, 1]; an unknown one is no evidence.
        c = _unit(conviction, 0.0)
        if c == 0.0:
            return 0.0
        step = self.utility(round_number) - self.utility(round_number - 1)
        if math.isnan(step):  # −∞ − (−∞): both rounds far past the peak, where U only falls
            step = -1.0
        # E is summed into the record: a round moves it by at most one unit of U, so it
        # stays finite (beyond ±1 only overflow gets there).
        return c * min(max(step, -1.0), 1.0)


def team_model(precisions: Sequence[tuple[float, float]], lam: float, beta: float) -> FatigueModel:
    """The team's model from its members' (p_g, p_v): the means; with no member known, the
    neutral prior an agent card starts from. A member's unknown (NaN) precision counts as
    that prior, so one bad card moves the mean no further than any other member could."""
    if not precisions:
        return FatigueModel(p_g=_NEUTRAL.p_g, p_v=_NEUTRAL.p_v, lam=lam, beta=beta)
    p_g = sum(_unit(p, _NEUTRAL.p_g) for p, _ in precisions) / len(precisions)
    p_v = sum(_unit(v, _NEUTRAL.p_v) for _, v in precisions) / len(precisions)
    return FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=beta)


@dataclass(frozen=True)
class Decision:
    stop: bool
    reason: StopReason | None = None
    note: str = ""


def decide(
    *,
    round_number: int,
    policy: Policy,
    tally: TallyComputed,
    model: FatigueModel,
    evidence: float,
    now: float,
    deadline_at: float,
    round_duration_s: float,
    spend_usd: float = 0.0,
    round_cost_usd: float = 0.0,
    min_gain: float = 0.0,
) -> Decision:
    """Stop or continue after ``round_number``, given the evidence E(r) gathered so far.

    Never raises. A value that cannot be compared (NaN) neither stops nor continues the
    deliberation by accident: each test below says what an unknown means for it.
    """
    if not tally.quorum_met:
        return Decision(
            True,
            "no_quorum",
            f"{tally.ok_proposals} ok proposal(s) and {tally.valid_ballots} valid ballot(s)",
        )
    if round_number >= policy.max_rounds:
        return Decision(True, "max_rounds", f"round {round_number} of {policy.max_rounds}")
    settled = round_number >= policy.min_rounds
    if settled and tally.unanimous:
        return Decision(True, "converged", "every ballot put its top weight on the winner")
    # E is a sum of bounded gains: a non-finite one is corruption, not evidence.
    evidence = evidence if math.isfinite(evidence) else 0.0
    target = _unit(policy.effort, _DEFAULT_EFFORT) * model.signal()
    if settled and model.k > 0 and evidence >= target:
        return Decision(True, "evidence", f"evidence {evidence:.4f} ≥ ε·B = {target:.4f}")
    t_opt = model.t_opt()  # never NaN; ∞ (β = 0) has no last round, so it never stops
    if settled and math.isfinite(t_opt) and round_number >= math.ceil(t_opt):
        return Decision(True, "fatigue", _fatigue_note(model, round_number, t_opt))
    # Before the peak, another round still has to be worth a round: with reviews barely
    # above chance (k small) the model's gain per round is tiny, and spending every round
    # on them is the opposite of what a signal that weak calls for.
    gain = model.utility(round_number + 1) - model.utility(round_number)
    if settled and math.isfinite(gain) and gain < _unit(min_gain, 0.0):
        return Decision(
            True,
            "efficiency",
            f"round {round_number + 1} is expected to add {gain:.4f} of accuracy "
            f"< min_gain {min_gain:.4f} (k = {model.k:.3f})",
        )
    limit = limits(policy, now, deadline_at, round_duration_s, spend_usd, round_cost_usd)
    return limit or Decision(False, note=f"evidence {evidence:.4f} < ε·B = {target:.4f}")


def limits(
    policy: Policy,
    now: float,
    deadline_at: float,
    round_duration_s: float,
    spend_usd: float,
    round_cost_usd: float,
) -> Decision | None:
    """The stops every protocol keeps: ``budget`` and ``deadline`` for another round like
    the last (None: neither). Never raises."""
    # An unknown or negative cost is no spend; a NaN budget is no budget.
    spend = _non_negative(spend_usd, 0.0) + _non_negative(round_cost_usd, 0.0)
    budget = policy.budget_usd
    if budget is not None and not math.isnan(budget) and spend > budget:
        return Decision(
            True,
            "budget",
            f"spent ${spend_usd:.6f}; another round (~${round_cost_usd:.6f}) would pass "
            f"the budget ${budget:.6f}",
        )
    # An unknown duration is no estimate (the round could be instant). An unknown clock or
    # deadline cannot say "late": the task's deadline timer concludes it regardless.
    ends = now + _non_negative(round_duration_s, 0.0)
    if not math.isnan(ends) and not math.isnan(deadline_at) and ends > deadline_at:
        return Decision(True, "deadline", "another round would end past the deadline")
    return None


def _fatigue_note(model: FatigueModel, round_number: int, t_opt: float) -> str:
    if model.k > 0:
        return f"round {round_number} ≥ ⌈T_opt⌉ = ⌈{t_opt:.2f}⌉"
    if model.lam == 0.0:
        return "Λ = 0: verification extracts nothing"
    return f"reviews carry no signal: p_v ({model.p_v:.2f}) ≤ 0.5 (chance)"
