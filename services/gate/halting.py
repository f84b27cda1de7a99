"""Halting (pure): after each round, stop or continue.

Stops, in order of precedence:

- ``no_quorum`` — the round fell below quorum: the deliberation cannot go on (degraded);
- ``max_rounds`` — the round was the last allowed;
- ``converged`` — at or after ``min_rounds``, the ballots were unanimous for the winner;
- ``deadline`` — another round (as long as this one took) would end past the deadline.

The efficiency–fatigue rule of §5.5 (``evidence``, ``fatigue``) and the budget stop slot
in here, in front of ``deadline``, with the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.gate import StopReason
from schemas.tally import TallyComputed
from schemas.task import Policy


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
    now: float,
    deadline_at: float,
    round_duration_s: float,
) -> Decision:
    if not tally.quorum_met:
        return Decision(
            True,
            "no_quorum",
            f"{tally.ok_proposals} ok proposal(s) and {tally.valid_ballots} valid ballot(s)",
        )
    if round_number >= policy.max_rounds:
        return Decision(True, "max_rounds", f"round {round_number} of {policy.max_rounds}")
    if round_number >= policy.min_rounds and tally.unanimous:
        return Decision(True, "converged", "every ballot put its top weight on the winner")
    if now + round_duration_s > deadline_at:
        return Decision(True, "deadline", "another round would end past the deadline")
    return Decision(False, note="continue")
