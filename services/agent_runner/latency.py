"""How long this runner's calls take, as its card tells the broker (pure).

The broker derives phase timeouts and the default task deadline from the p95 latency in
the cards (services/broker/timing.py), so the cards must describe the hardware the model
really runs on, queueing at a busy server included:

- before any call: the pool's declared latency (the prior);
- after a few calls (fewer than ``MIN_CALLS``, such as the probe a runner makes when it
  first goes live): their median, and a p95 of ``SPREAD`` × that median or the slowest
  call, whichever is longer: one short call says little about the long ones (a review
  prompt is several times a proposal's);
- after ``MIN_CALLS``: the median and the 95th percentile of the last ``WINDOW`` calls.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

WINDOW = 64
MIN_CALLS = 5
SPREAD = 2.5


class Latency:
    def __init__(self, prior: tuple[float, float]) -> None:
        self.prior = prior
        self.calls: deque[float] = deque(maxlen=WINDOW)

    def observe(self, seconds: float) -> None:
        if math.isfinite(seconds) and seconds >= 0:
            self.calls.append(seconds)

    def estimate(self) -> tuple[float, float]:
        """(median, p95) seconds of one call."""
        if not self.calls:
            return self.prior
        calls = sorted(self.calls)
        median = statistics.median(calls)
        if len(calls) < MIN_CALLS:
            return median, max(SPREAD * median, calls[-1])
        rank = max(math.ceil(0.95 * len(calls)) - 1, 0)
        return median, calls[rank]
