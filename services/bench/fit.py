"""Least-squares fit of the efficiency–fatigue model (§5.5) to measured accuracy by round.

U(t) = 1 − (1 − p_g)·e^(−k·t) − β·t², k = Λ·(2·p_v − 1) (the gate's ``extraction_rate``),
with the team's p_g and p_v given; Λ and β are fitted. For a fixed Λ the model is linear
in β, so β has a closed form (clamped at 0); Λ is found by a log-spaced scan refined by
golden-section search. R² is reported over the rounds fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.gate.halting import extraction_rate

LAMBDA_RANGE = (1e-3, 50.0)


@dataclass(frozen=True)
class Fit:
    lam: float
    beta: float
    r2: float | None  # None when the accuracy does not vary (nothing to explain)
    rmse: float


def _beta_for(lam: float, t: np.ndarray, acc: np.ndarray, p_g: float, p_v: float) -> float:
    base = 1.0 - (1.0 - p_g) * np.exp(-extraction_rate(lam, p_v) * t)
    t2 = t * t
    beta = float(np.dot(base - acc, t2) / np.dot(t2, t2))
    return max(beta, 0.0)


def _sse(lam: float, t: np.ndarray, acc: np.ndarray, p_g: float, p_v: float) -> float:
    beta = _beta_for(lam, t, acc, p_g, p_v)
    pred = 1.0 - (1.0 - p_g) * np.exp(-extraction_rate(lam, p_v) * t) - beta * t * t
    return float(np.sum((acc - pred) ** 2))


def fit(rounds: Sequence[int], accuracy: Sequence[float], p_g: float, p_v: float) -> Fit:
    t = np.asarray(rounds, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    grid = np.geomspace(*LAMBDA_RANGE, 2000)
    errors = [_sse(lam, t, acc, p_g, p_v) for lam in grid]
    i = int(np.argmin(errors))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):  # golden-section refinement inside the best bracket
        a = hi - ratio * (hi - lo)
        b = lo + ratio * (hi - lo)
        if _sse(a, t, acc, p_g, p_v) < _sse(b, t, acc, p_g, p_v):
            hi = b
        else:
            lo = a
    lam = float((lo + hi) / 2)
    beta = _beta_for(lam, t, acc, p_g, p_v)
    sse = _sse(lam, t, acc, p_g, p_v)
    sst = float(np.sum((acc - acc.mean()) ** 2))
    r2 = None if sst <= 1e-12 else 1.0 - sse / sst
    return Fit(lam=lam, beta=beta, r2=r2, rmse=math.sqrt(sse / len(t)))
