"""What became of each task of a benchmark run (pure): the evidence about one task in, one
outcome out, and the counts a report prints.

Consumes, per task: how many times the held plain subscription received its result, when
the results stream stored it (if it did), and the state of its deliberation record at the
end. Emits one of

- ``answered``: the subscription received it (once, or more: ``duplicates`` counts the
  deliveries past the first);
- ``missed``: never received, but stored while the subscription was reconnecting (a plain
  subscriber cannot get a publish then; a client looks the result up);
- ``lost``: never received though published while subscribed; or concluded in its record
  but never published; or no record at all (the task vanished);
- ``stuck``: never received, never stored, its record still running past the deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

RecordState = Literal["absent", "running", "done"]
Outcome = Literal["answered", "missed", "lost", "stuck"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "missed", "lost", "stuck")


@dataclass(frozen=True)
class Evidence:
    received: int  # deliveries on the plain subscription
    stored_at: float | None  # epoch seconds the results stream stored it, None: not stored
    record: RecordState


def classify(evidence: Evidence, away: Callable[[float], bool]) -> Outcome:
    """``away(t)``: whether the subscription was reconnecting at epoch second ``t``."""
    if evidence.received > 0:
        return "answered"
    if evidence.stored_at is not None:
        return "missed" if away(evidence.stored_at) else "lost"
    if evidence.record == "running":
        return "stuck"
    return "lost"


def tally(evidence: Iterable[Evidence], away: Callable[[float], bool]) -> dict[str, int]:
    """Tasks per outcome (every outcome present), and ``duplicates``: deliveries past each
    task's first."""
    counts: Counter[str] = Counter()
    duplicates = 0
    for item in evidence:
        counts[classify(item, away)] += 1
        duplicates += max(item.received - 1, 0)
    return {**{name: counts[name] for name in OUTCOMES}, "duplicates": duplicates}
