"""Where a benchmark's CPU goes: user + system time of each process of its stack over a
measured window. It tells a suite bound by CPU (the processes' time adds up to the cores
available) from one bound by waiting, and which service to optimise next."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

import psutil

# Processes grouped under one name in the profile: every replica of every agent is a runner.
RUNNERS = "runners"
CLIENT = "bench client"


def _group(name: str) -> str:
    return RUNNERS if name.startswith("agent-") else name


def _cpu_s(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # exited during the window: its last reading stands
        return 0.0
    return float(times.user + times.system)


@dataclass
class CpuMeter:
    """CPU seconds per process group, from ``start()`` to ``stop()``."""

    processes: dict[str, list[psutil.Process]]
    _start: dict[str, float] | None = None

    @classmethod
    def of(cls, pids: Mapping[str, int]) -> CpuMeter:
        """A meter for the named processes (``agent-…`` grouped) and this process."""
        groups: dict[str, list[psutil.Process]] = {CLIENT: [psutil.Process(os.getpid())]}
        for name, pid in pids.items():
            groups.setdefault(_group(name), []).append(psutil.Process(pid))
        return cls(groups)

    def _read(self) -> dict[str, float]:
        return {name: sum(map(_cpu_s, procs)) for name, procs in self.processes.items()}

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds each group used since ``start()``."""
        if self._start is None:
            raise RuntimeError("CpuMeter.stop() before start()")
        end = self._read()
        return {name: max(end[name] - self._start[name], 0.0) for name in end}


class Profile(TypedDict):
    cpu_ms_per_round: dict[str, float]
    cpu_ms_per_round_total: float
    cpu_busy: float
    cpu_cores: int


def profile(used_s: Mapping[str, float], per: int, wall_s: float) -> Profile:
    """The window's CPU as milliseconds per unit of work (``per`` rounds, say), and the
    share of the machine's cores it kept busy (1.0: every core, the whole window)."""
    total = sum(used_s.values())
    cores = os.cpu_count() or 1
    return {
        "cpu_ms_per_round": {
            name: round(seconds * 1000 / per, 2)
            for name, seconds in sorted(used_s.items(), key=lambda item: -item[1])
        },
        "cpu_ms_per_round_total": round(total * 1000 / per, 2),
        "cpu_busy": round(total / (wall_s * cores), 3) if wall_s > 0 else 0.0,
        "cpu_cores": cores,
    }
