"""Resident memory (RSS) of every process of a supervised stack, sampled through a run.

Consumes supervisord's process table (program → pid; a restarted program is followed to its
new pid) and this process (the benchmark client). Emits each program's peak RSS, and its RSS
at each quarter of the run's progress (what the caller counts as done): memory that grew
with the work queued would peak at the start, memory that grew with the work done would
climb quarter by quarter; bounded memory does neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psutil

CLIENT = "bench client"
MB = 1024 * 1024


def _rss(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:  # exited between the table and the reading
        return None


@dataclass
class RssMeter:
    pids: Callable[[], Awaitable[dict[str, int]]]
    progress: Callable[[], float]  # 0 … 1
    every_s: float = 1.0
    peak: dict[str, int] = field(default_factory=dict)
    # RSS when progress first reached 0, 0.25, 0.5, 0.75 and 1
    at_progress: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: int = 0

    async def sample(self) -> None:
        with contextlib.suppress(Exception):  # supervisord busy: the next tick reads it
            table = {**await self.pids(), CLIENT: os.getpid()}
            done = self.progress()
            mark = next((m for m in ("1", "0.75", "0.5", "0.25", "0") if done >= float(m)), None)
            for name, pid in table.items():
                rss = _rss(pid)
                if rss is None:
                    continue
                self.peak[name] = max(self.peak.get(name, 0), rss)
                if mark is not None:
                    self.at_progress.setdefault(mark, {}).setdefault(name, rss)
            self.samples += 1

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sample()
            with contextlib.suppress(TimeoutError):
                # The sampling period, not a wait for anything: stop ends it early.
                await asyncio.wait_for(stop.wait(), self.every_s)
        await self.sample()

    def report(self) -> dict[str, object]:
        def mb(value: int) -> float:
            return round(value / MB, 1)

        return {
            "peak_rss_mb": {name: mb(v) for name, v in sorted(self.peak.items())},
            "rss_mb_by_progress": {
                mark: {name: mb(v) for name, v in sorted(by_name.items())}
                for mark, by_name in sorted(self.at_progress.items(), key=lambda i: float(i[0]))
            },
            "rss_samples": self.samples,
        }
