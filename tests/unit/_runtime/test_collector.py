"""The collector settings of a service: startup objects frozen, and garbage in cycles still
freed without anyone calling ``gc.collect`` (run in a child process: the settings are
process-wide)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import gc, weakref
from services._runtime import collector
collector.tune()
print(gc.get_threshold(), gc.get_freeze_count() > 0)

class Node:
    pass

freed = []
for i in range(2_000):  # cycles: reference counting alone never frees them
    a, b = Node(), Node()
    a.other, b.other = b, a
    weakref.finalize(a, freed.append, i)
    del a, b
junk = [[] for _ in range(200_000)]  # allocations that let the young generation fill
print(len(freed))
"""


def test_a_tuned_service_freezes_its_startup_and_still_frees_garbage_in_cycles() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "(50000, 50, 100) True"
    assert int(out[1]) >= 1_000  # most cycles were freed by the collector on its own
