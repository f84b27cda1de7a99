"""Where a benchmark's CPU goes: user + system time of each process of its stack over a
measured window, and the whole machine's busy time over the same window. It tells a suite
bound by CPU (the processes' time adds up to the cores available) from one bound by
waiting, which service to optimise next, and, on a shared machine, how much of the cores
other jobs took (``others_busy``)."""

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
    _machine_start: float = 0.0
    machine_s: float = 0.0  # every process's CPU seconds over the last window, ours or not

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
        self._machine_start = _machine_busy_s()

    def stop(self) -> dict[str, float]:
        """CPU seconds each group used since ``start()``."""
        if self._start is None:
            raise RuntimeError("CpuMeter.stop() before start()")
        end = self._read()
        self.machine_s = max(_machine_busy_s() - self._machine_start, 0.0)
        return {name: max(end[name] - self._start[name], 0.0) for name in end}


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot, over all cores: idle and I/O
    wait left out, guest time (already in user time) not counted twice, and time the
    hypervisor gave to others (steal) counted as taken."""
    times = psutil.cpu_times()
    unbusy = ("idle", "iowait", "guest", "guest_nice")
    return float(sum(times) - sum(getattr(times, name, 0.0) for name in unbusy))


class Profile(TypedDict):
    cpu_ms_per_round: dict[str, float]
    cpu_ms_per_round_total: float
    cpu_busy: float
    cpu_cores: int
    others_busy: float


def profile(
    used_s: Mapping[str, float], per: int, wall_s: float, machine_s: float | None = None
) -> Profile:
    """The window's CPU as milliseconds per unit of work (``per`` rounds, say), and the
    share of the machine's cores it kept busy (1.0: every core, the whole window);
    ``others_busy``: the share other processes kept busy, from ``machine_s`` (the whole
    machine's CPU seconds over the window; None: not measured, 0)."""
    total = sum(used_s.values())
    cores = os.cpu_count() or 1
    others = max(machine_s - total, 0.0) if machine_s is not None else 0.0
    return {
        "cpu_ms_per_round": {
            name: round(seconds * 1000 / per, 2)
            for name, seconds in sorted(used_s.items(), key=lambda item: -item[1])
        },
        "cpu_ms_per_round_total": round(total * 1000 / per, 2),
        "cpu_busy": round(total / (wall_s * cores), 3) if wall_s > 0 else 0.0,
        "cpu_cores": cores,
        "others_busy": round(min(others / (wall_s * cores), 1.0), 3) if wall_s > 0 else 0.0,
    }
