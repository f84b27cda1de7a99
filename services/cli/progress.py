"""Live per-round progress of one deliberation, rendered from its events.

``describe`` turns one event into at most one line (pure); ``Progress`` prints those lines
to stderr and keeps a spinner line with the round's counts when stderr is a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import msgspec
from rich.console import Console
from rich.status import Status

from schemas.ballot import BallotAccepted
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.team import TeamSelected

TaskEvent = Union[  # noqa: UP007 - a runtime union for msgspec
    TeamSelected,
    ProposalSubmitted,
    ReviewSubmitted,
    BallotAccepted,
    TallyComputed,
    RoundContinued,
    DeliberationConcluded,
]
event_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(TaskEvent)


@dataclass
class RoundCounts:
    team: int = 0
    proposals: dict[int, int] = field(default_factory=dict)
    ballots: dict[int, int] = field(default_factory=dict)
    agents: dict[int, str] = field(default_factory=dict)  # seat -> agent id


def describe(event: Any, counts: RoundCounts) -> str | None:
    if isinstance(event, TeamSelected):
        counts.team = len(event.seats)
        counts.agents = {s.seat: s.agent_id for s in event.seats}
        names = ", ".join(s.agent_id for s in event.seats)
        return f"team ({event.solver_status}): {names}"
    if isinstance(event, ProposalSubmitted):
        counts.proposals[event.round] = counts.proposals.get(event.round, 0) + 1
        if event.status != "ok":
            return f"round {event.round}: {event.agent_id} {event.status}: {event.error}"
        return None
    if isinstance(event, BallotAccepted):
        counts.ballots[event.round] = counts.ballots.get(event.round, 0) + 1
        return None
    if isinstance(event, TallyComputed):
        winner = next((s for s in event.scores if s.proposal_id == event.winner), None)
        who = winner.agent_id if winner else "nobody"
        quorum = "" if event.quorum_met else " · below quorum"
        unanimous = " · unanimous" if event.unanimous else ""
        return (
            f"round {event.round}: winner {who} · conviction {event.conviction:.2f} · "
            f"{event.ok_proposals} proposals, {event.valid_ballots} valid ballots"
            f"{unanimous}{quorum}"
        )
    if isinstance(event, RoundContinued):
        tokens = event.state.tokens
        return f"round {event.round}: continue → round {event.next_round} ({tokens} state tokens)"
    return None


def summary_line(result: DeliberationConcluded) -> str:
    who = f" from {result.winner_agent}" if result.winner_agent else ""
    sim = " · simulated agents" if result.simulated else ""
    correct = "" if result.correct is None else (" · correct" if result.correct else " · wrong")
    return (
        f"{result.status} ({result.stop_reason}) after {result.rounds} round(s){who} · "
        f"${result.cost_usd:.6f} · {result.elapsed_s:.1f}s{correct}{sim}"
    )


class Progress:
    def __init__(self, task_id: str, *, enabled: bool) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.enabled = enabled
        self.counts = RoundCounts()
        self.round = 1
        self.status: Status | None = None
        if enabled:
            self.console.print(f"task {task_id}")
            if self.console.is_terminal:
                self.status = self.console.status("waiting for the broker…")
                self.status.start()

    def on_event(self, event: Any) -> None:
        if not self.enabled:
            return
        if isinstance(event, RoundContinued):
            self.round = event.next_round
        line = describe(event, self.counts)
        if line:
            self.console.print(line)
        if self.status is not None:
            proposals = self.counts.proposals.get(self.round, 0)
            ballots = self.counts.ballots.get(self.round, 0)
            team = self.counts.team or "?"
            self.status.update(
                f"round {self.round} · proposals {proposals}/{team} · ballots {ballots}/{team}"
            )

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
