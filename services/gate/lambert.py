"""The principal branch W₀ of the Lambert W function (w·e^w = x), total on its domain:
finite up to the largest float, ∞ at ∞. Halting's T_opt is W₀(·)/k (``halting.py``)."""

from __future__ import annotations

import math

_INV_E = math.exp(-1.0)


def w0_of_log(log_x: float) -> float:
    """W₀(e^L) without forming e^L, which overflows for L > 709 (a tiny β does that).

    Newton on w + ln w = L from w = L − ln L, a lower bound of the root for L ≥ e: the
    function is concave and increasing, so the iterates rise monotonically to the root.
    """
    if log_x < 2.0:
        return lambert_w0(math.exp(log_x))
    if math.isinf(log_x):
        return math.inf
    w = log_x - math.log(log_x)
    for _ in range(64):
        step = (w + math.log(w) - log_x) / (1.0 + 1.0 / w)
        w -= step
        if abs(step) <= 1e-15 * w:
            break
    return w


def lambert_w0(x: float) -> float:
    """The principal branch W₀ of the Lambert W function (w·e^w = x), for x ≥ −1/e.

    Halley's iteration from a branch-appropriate start; converges to machine precision in
    a handful of steps over the whole domain. Above e² it works on ln x (``w0_of_log``),
    so it stays finite up to the largest float and gives ∞ for x = ∞.
    """
    if math.isnan(x) or x < -_INV_E:
        raise ValueError(f"W0 is defined for x ≥ -1/e, not {x}")
    if x == 0.0:
        return 0.0
    if x == -_INV_E:
        return -1.0
    if x > math.e**2:
        return w0_of_log(math.log(x))
    if x < 1.0:
        # Near the branch point use the series in p = √(2(e·x + 1)); elsewhere log1p.
        p = math.sqrt(max(2.0 * (math.e * x + 1.0), 0.0))
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p**3 if x < -0.25 else math.log1p(x)
    else:
        w = max(math.log(x), 0.5)
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
