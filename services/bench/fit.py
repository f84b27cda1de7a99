"""Least-squares fit of the efficiency–fatigue model (§5.5) to measured accuracy by round.

Consumes the accuracy after each round and the team's p_g and p_v; emits a ``Fit``: Λ and
β, R², T_opt as the gate would compute it from them, β's standard error and whether the
data identify β at all.

U(t) = 1 − (1 − p_g)·e^(−k·t) − β·t² with k = Λ·(2·p_v − 1) taken from the gate
(``extraction_rate``); U is ``FatigueModel.utility`` evaluated for a whole grid of Λ at
once (a test checks they agree), so what is fitted here is what the gate runs. β is
free: a negative β (accuracy still rising faster than Λ alone explains) is reported as
such, and the gate reads any β ≤ 0 as no fatigue. For a fixed Λ the model is linear in β,
so β has a closed form; Λ is found by a log-spaced scan refined by golden-section search.

β's standard error comes from the residuals and the Jacobian of U in (Λ, β) at the fit.
β counts as identified only when all of these hold, and ``note`` says which did not:

- at least ``MIN_UNSATURATED`` rounds lie strictly between accuracy 0 and 1 (a round at
  the ceiling says only "at least 1", which any small enough β fits);
- there is a residual degree of freedom left to estimate the error from;
- the β column of the Jacobian is not collinear with the Λ column (|cos| < ``COLLINEAR``):
  otherwise fatigue and a slower extraction explain the data equally well;
- |β| ≥ 2·se: otherwise the data do not tell fatigue from none;
- p_v > 0.5: at or below chance U never rises, so there is no peak for β to place;
- R² ≥ ``MIN_R2``: the curve has the model's shape at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.gate.halting import FatigueModel, extraction_rate

MIN_R2 = 0.5  # below this the model explains too little of the curve to read β from it
LAMBDA_RANGE = (1e-3, 50.0)
MIN_UNSATURATED = 3
COLLINEAR = 0.999
MAX_ROUND = 1000  # with Λ ≥ 1e-3, U stays finite up to here whatever p_v is
_SCAN = 1000
_BIG = 1e6  # a U this far from [0, 1] is never the best fit: treat it as overflowed
_STEP = 1e-6  # relative step of the central difference in Λ
_FLAT = 1e-6  # a Λ column this small next to the β column is rounding noise: U ignores Λ


@dataclass(frozen=True)
class Fit:
    lam: float
    beta: float
    r2: float | None  # None when the accuracy does not vary (nothing to explain)
    rmse: float
    beta_se: float | None = None  # None when no residual is left to estimate it from
    beta_identified: bool = False
    t_opt: float | None = None  # what the gate makes of (Λ, β); None: no peak (T_opt = ∞)
    note: str = ""  # why β (or Λ) is not identified; empty when it is
    unsaturated: int = 0  # rounds strictly between accuracy 0 and 1

    def as_json(self) -> dict[str, Any]:
        """The keys ``nsed bench quality`` prints (finite numbers or null only)."""
        return {
            "lambda": round(self.lam, 4),
            "beta": float(f"{self.beta:.4g}"),  # significant digits: β is often ~1e-4
            "r2": None if self.r2 is None else round(self.r2, 4),
            "rmse": round(self.rmse, 5),
            "t_opt": None if self.t_opt is None else round(self.t_opt, 3),
            "beta_se": None if self.beta_se is None else float(f"{self.beta_se:.3g}"),
            "beta_identified": self.beta_identified,
            "unsaturated_rounds": self.unsaturated,
            "note": self.note,
        }


def _base(lams: np.ndarray, t: np.ndarray, p_g: float, p_v: float) -> np.ndarray:
    """U(t) without fatigue, one row per Λ: the gate's U, vectorised. k is linear in Λ, so
    k = Λ·extraction_rate(1, p_v). NaN where a falling U leaves ±``_BIG``."""
    if p_g >= 1.0:  # nothing to extract (and 0·∞ where the exponential overflows)
        return np.ones((len(lams), len(t)))
    k = lams[:, None] * extraction_rate(1.0, p_v)
    with np.errstate(over="ignore", invalid="ignore"):
        base = 1.0 - (1.0 - p_g) * np.exp(-k * t[None, :])
    return np.where(np.abs(base) < _BIG, base, np.nan)


def _beta_for(base: np.ndarray, t: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """The least-squares β for each row of ``base`` (linear in β: a closed form)."""
    t2 = t * t
    denom = float(np.dot(t2, t2))
    if denom == 0.0:  # every round at t = 0: β multiplies nothing
        return np.zeros(len(base))
    return np.asarray((base - acc[None, :]) @ t2 / denom)


def _sse(lams: np.ndarray, t: np.ndarray, acc: np.ndarray, p_g: float, p_v: float) -> np.ndarray:
    base = _base(lams, t, p_g, p_v)
    pred = base - _beta_for(base, t, acc)[:, None] * (t * t)[None, :]
    sse = np.sum((acc[None, :] - pred) ** 2, axis=1)
    return np.where(np.isfinite(sse), sse, np.inf)


def _best_lambda(t: np.ndarray, acc: np.ndarray, p_g: float, p_v: float) -> float:
    grid = np.geomspace(*LAMBDA_RANGE, _SCAN)
    errors = _sse(grid, t, acc, p_g, p_v)
    i = int(np.argmin(errors))  # the first of equals: a flat SSE picks the smallest Λ
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):  # golden-section refinement inside the best bracket
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        sse_a, sse_b = _sse(np.array([a, b]), t, acc, p_g, p_v)
        if sse_a < sse_b:
            hi = b
        else:
            lo = a
    best = (lo + hi) / 2
    # The scan's own best point wins ties: a flat SSE must not drift the answer.
    return best if _sse(np.array([best]), t, acc, p_g, p_v)[0] <= errors[i] else float(grid[i])


def _lambda_column(lam: float, t: np.ndarray, p_g: float, p_v: float) -> np.ndarray:
    """∂U/∂Λ at the fit, by a central difference of U."""
    h = lam * _STEP
    up, down = _base(np.array([lam + h, lam - h]), t, p_g, p_v)
    column = (up - down) / (2 * h)
    return np.where(np.isfinite(column), column, 0.0)


def _beta_error(
    lam: float, t: np.ndarray, sse: float, p_g: float, p_v: float
) -> tuple[float | None, str, str]:
    """β's standard error from the linearised model (None when there is none), why it is
    missing, and a note on Λ."""
    n = len(t)
    jb = -(t * t)
    jl = _lambda_column(lam, t, p_g, p_v)
    nb, nl = float(np.linalg.norm(jb)), float(np.linalg.norm(jl))
    if nb == 0.0:
        return None, "every round is at t = 0, where β multiplies nothing", ""
    if nl <= _FLAT * nb:
        # U does not move with Λ at these rounds (reviews at chance, or extraction done by
        # round 1): Λ is not identified, and β is a one-parameter regression.
        flat = "Λ is not identified: U does not change with Λ at these rounds"
        if n < 2:
            return None, "no residual degree of freedom to estimate β's error", flat
        return math.sqrt(sse / (n - 1)) / nb, "", flat
    if n < 3:
        return None, "as many parameters as rounds: no residual to estimate β's error", ""
    cos = abs(float(np.dot(jl, jb))) / (nl * nb)
    if cos >= COLLINEAR:
        return None, f"the β column is collinear with the Λ curve (|cos| = {cos:.4f})", ""
    jac = np.column_stack([jl, jb])
    cov = (sse / (n - 2)) * np.linalg.inv(jac.T @ jac)
    return math.sqrt(max(float(cov[1, 1]), 0.0)), "", ""


def _t_opt(lam: float, beta: float, p_g: float, p_v: float) -> float | None:
    t_opt = FatigueModel(p_g=p_g, p_v=p_v, lam=lam, beta=beta).t_opt()
    return t_opt if math.isfinite(t_opt) else None


def fit(rounds: Sequence[int], accuracy: Sequence[float], p_g: float, p_v: float) -> Fit:
    """Fit Λ and β (β free) to ``accuracy`` after each of ``rounds``.

    Never raises on accuracies in [0, 1], one per round, at least two: says in ``note``
    what the data cannot tell rather than clamping. Anything else is a ValueError.
    """
    t = np.asarray(rounds, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if t.shape != acc.shape or t.ndim != 1 or len(t) < 2:
        raise ValueError("fit needs as many accuracies as rounds, at least 2")
    if not (np.all((t >= 0) & (t <= MAX_ROUND)) and np.all((acc >= 0.0) & (acc <= 1.0))):
        raise ValueError(f"fit needs rounds in [0, {MAX_ROUND}] and accuracies in [0, 1]")
    model = FatigueModel(p_g=p_g, p_v=p_v)  # the gate's reading of p_g and p_v (clamped)
    p_g, p_v = model.p_g, model.p_v
    lam = _best_lambda(t, acc, p_g, p_v)
    base = _base(np.array([lam]), t, p_g, p_v)
    beta = float(_beta_for(base, t, acc)[0])
    sse = float(_sse(np.array([lam]), t, acc, p_g, p_v)[0])
    sst = float(np.sum((acc - acc.mean()) ** 2))
    r2 = None if sst <= 1e-12 else 1.0 - sse / sst

    unsaturated = int(np.sum((acc > 0.0) & (acc < 1.0)))
    se, missing, on_lambda = _beta_error(lam, t, sse, p_g, p_v)
    problems = [missing] if missing else []  # what keeps β from being identified
    if unsaturated < MIN_UNSATURATED:
        problems.append(
            f"only {unsaturated} of {len(t)} rounds lie strictly between accuracy 0 and 1 "
            f"(β needs {MIN_UNSATURATED})"
        )
    if se is not None and abs(beta) < 2.0 * se:
        problems.append(f"|β| < 2·se (se = {se:.2g}): the data do not tell fatigue from none")
    if extraction_rate(1.0, p_v) <= 0.0:
        # U then never rises, T_opt = 0 whatever β is, and β only absorbs the misfit
        problems.append(f"p_v = {p_v:.3f} ≤ 0.5: reviews carry no signal (k ≤ 0)")
    if r2 is not None and r2 < MIN_R2:
        # A β read off a curve the model does not describe is a number, not a finding.
        problems.append(f"R² = {r2:.2f} < {MIN_R2}: the accuracy by round is not the model's shape")
    identified = se is not None and not problems
    if on_lambda:
        problems.append(on_lambda)
    if math.isclose(lam, LAMBDA_RANGE[0]) or math.isclose(lam, LAMBDA_RANGE[1]):
        problems.append(f"Λ is at the edge of its range {LAMBDA_RANGE}")
    return Fit(
        lam=lam,
        beta=beta,
        r2=r2,
        rmse=math.sqrt(sse / len(t)),
        beta_se=se,
        beta_identified=identified,
        t_opt=_t_opt(lam, beta, p_g, p_v),
        note="; ".join(problems),
        unsaturated=unsaturated,
    )
