"""Halting (pure, §5.5): the efficiency–fatigue model and the decision after each round.

With the team's generation precision p_g and verification precision p_v (the means of the
members' domain estimates), k = Λ·(p_v − p_g):

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
                (when p_v ≤ p_g, k ≤ 0 and no round is worth it: T_opt = 0)
    budget      the spend plus another round like the last would exceed ``budget_usd``
    deadline    another round like the last would end past the deadline

Λ and β are the gate's settings (``NSED_GATE_FATIGUE_LAMBDA``, ``NSED_GATE_FATIGUE_BETA``);
their defaults, Λ = 2.0 and β = 0.0013, put T_opt near round 5–6 for p_g = 0.55 and
p_v = 0.8, where the paper sees quality peak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.gate import StopReason
from schemas.tally import TallyComputed
from schemas.task import Policy
from schemas.team import DomainPrior

DEFAULT_LAMBDA = 2.0
DEFAULT_BETA = 0.0013
_INV_E = math.exp(-1.0)


def lambert_w0(x: float) -> float:
    """The principal branch W₀ of the Lambert W function (w·e^w = x), for x ≥ −1/e.

    Halley's iteration from a branch-appropriate start; converges to machine precision in
    a handful of steps over the whole domain.
    """
    if math.isnan(x) or x < -_INV_E:
        raise ValueError(f"W0 is defined for x ≥ -1/e, not {x}")
    if x == 0.0:
        return 0.0
    if x == -_INV_E:
        return -1.0
    if x < 1.0:
        # Near the branch point use the series in p = √(2(e·x + 1)); elsewhere log1p.
        p = math.sqrt(max(2.0 * (math.e * x + 1.0), 0.0))
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p**3 if x < -0.25 else math.log1p(x)
    else:
        lx = math.log(x)
        w = lx - math.log(lx) if x > math.e else lx
        w = max(w, 0.5)
    for _ in range(64):
        ew = math.exp(w)
        f = w * ew - x
        denom = ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0)
        if denom == 0.0:
            break
        step = f / denom
        w -= step
        if abs(step) <= 1e-15 * (1.0 + abs(w)):
            break
    return w


@dataclass(frozen=True)
class FatigueModel:
    p_g: float
    p_v: float
    lam: float = DEFAULT_LAMBDA
    beta: float = DEFAULT_BETA

    @property
    def k(self) -> float:
        return self.lam * (self.p_v - self.p_g)

    def utility(self, t: float) -> float:
        return 1.0 - (1.0 - self.p_g) * math.exp(-self.k * t) - self.beta * t * t

    def t_opt(self) -> float:
        """The round that maximises U; 0 when verification adds nothing (k ≤ 0)."""
        k = self.k
        if k <= 0.0 or self.p_g >= 1.0:
            return 0.0
        if self.beta <= 0.0:
            return math.inf
        return lambert_w0((1.0 - self.p_g) * k * k / (2.0 * self.beta)) / k

    def signal(self) -> float:
        t = self.t_opt()
        if math.isinf(t):
            return 1.0 - self.p_g
        return self.utility(t) - self.utility(0.0)

    def gain(self, round_number: int, conviction: float) -> float:
        """ΔE(r): the evidence round ``round_number`` adds at conviction c_r."""
        if round_number < 1:
            return 0.0
        step = self.utility(round_number) - self.utility(round_number - 1)
        return max(conviction, 0.0) * step


def team_model(precisions: Sequence[tuple[float, float]], lam: float, beta: float) -> FatigueModel:
    """The team's model from its members' (p_g, p_v): the means; with no member known, the
    neutral prior an agent card starts from."""
    if not precisions:
        neutral = DomainPrior()
        return FatigueModel(p_g=neutral.p_g, p_v=neutral.p_v, lam=lam, beta=beta)
    p_g = sum(p for p, _ in precisions) / len(precisions)
    p_v = sum(v for _, v in precisions) / len(precisions)
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
) -> Decision:
    """Stop or continue after ``round_number``, given the evidence E(r) gathered so far."""
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
    target = policy.effort * model.signal()
    if settled and model.k > 0 and evidence >= target:
        return Decision(True, "evidence", f"evidence {evidence:.4f} ≥ ε·B = {target:.4f}")
    t_opt = model.t_opt()
    if settled and round_number >= math.ceil(t_opt):
        why = (
            f"p_v ({model.p_v:.2f}) ≤ p_g ({model.p_g:.2f}): verification adds nothing"
            if model.k <= 0
            else f"round {round_number} ≥ ⌈T_opt⌉ = ⌈{t_opt:.2f}⌉"
        )
        return Decision(True, "fatigue", why)
    if policy.budget_usd is not None and spend_usd + round_cost_usd > policy.budget_usd:
        return Decision(
            True,
            "budget",
            f"spent ${spend_usd:.6f}; another round (~${round_cost_usd:.6f}) would pass "
            f"the budget ${policy.budget_usd:.6f}",
        )
    if now + round_duration_s > deadline_at:
        return Decision(True, "deadline", "another round would end past the deadline")
    return Decision(False, note=f"evidence {evidence:.4f} < ε·B = {target:.4f}")
