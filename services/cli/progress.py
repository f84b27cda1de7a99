"""Live per-round progress of one deliberation, rendered from its events.

``describe`` turns one event into at most one line (pure); ``Progress`` prints those lines
to stderr and keeps a spinner line with the round's counts when stderr is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Union

import msgspec
from rich.status import Status

from schemas.ballot import BallotAccepted
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskRefused
from schemas.team import TeamSelected
from services.cli import client

TaskEvent = Union[  # noqa: UP007 - a runtime union for msgspec
    TaskRefused,
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
    proposed: dict[int, set[int]] = field(default_factory=dict)  # round -> seats
    answered: dict[int, set[int]] = field(default_factory=dict)  # round -> seats, ok
    balloted: dict[int, set[int]] = field(default_factory=dict)  # round -> seats

    def waiting(self, round_number: int) -> tuple[str, list[str]]:
        """The round's phase as seen from its events, and the members it waits for: the
        seats without a proposal, then the reviewers (seats with an ok proposal) without a
        ballot."""
        proposed = self.proposed.get(round_number, set())
        missing = [a for seat, a in sorted(self.agents.items()) if seat not in proposed]
        if missing:
            return "proposing", missing
        balloted = self.balloted.get(round_number, set())
        reviewers = self.answered.get(round_number, set())
        return "reviewing", [
            a for seat, a in sorted(self.agents.items()) if seat in reviewers - balloted
        ]


def describe(event: Any, counts: RoundCounts) -> str | None:
    if isinstance(event, TeamSelected):
        counts.team = len(event.seats)
        counts.agents = {s.seat: s.agent_id for s in event.seats}
        names = ", ".join(s.agent_id for s in event.seats)
        timing = ""
        if event.deadline_at is not None and event.phase_timeout_s is not None:
            left = max(event.deadline_at - time.time(), 0.0)
            timing = (
                f" · up to {left:.0f}s for the task, {event.phase_timeout_s:.0f}s a phase "
                "(from the members' latency)"
            )
        return f"team ({event.solver_status}): {names}{timing}"
    if isinstance(event, ProposalSubmitted):
        counts.proposals[event.round] = counts.proposals.get(event.round, 0) + 1
        counts.proposed.setdefault(event.round, set()).add(event.seat)
        if event.status == "ok":
            counts.answered.setdefault(event.round, set()).add(event.seat)
        if event.status != "ok":
            return f"round {event.round}: {event.agent_id} {event.status}: {event.error}"
        return None
    if isinstance(event, BallotAccepted):
        counts.ballots[event.round] = counts.ballots.get(event.round, 0) + 1
        counts.balloted.setdefault(event.round, set()).add(event.seat)
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


def simulated_notice(has_reference: bool) -> list[str]:
    """What simulated agents can and cannot do: said before anything they answer."""
    first = (
        "simulated agents are answering: seeded draws from a model of each agent's "
        "precision, not a language model; they do not read the question"
    )
    if has_reference:
        return [first, "they are right as often as that model says, against your --answer"]
    return [
        first,
        "without --answer they answer a hidden placeholder (a random label or number), not "
        "your question; give --answer to see how often they get it right",
    ]


def is_simulated(event: Any) -> bool:
    return isinstance(event, TeamSelected | ProposalSubmitted) and event.simulated


def warning_lines(warnings: tuple[str, ...], shown: Collection[str] = ()) -> list[str]:
    """The lines that tell what the broker ignored of a task (its unknown fields)."""
    return [f"nsed: warning: {w}" for w in warnings if w not in shown]


class Progress:
    """Prints what happens to stderr; tells which members a round waits for: on the spinner
    line on a terminal, else in a line once a phase has waited ``NOTE_AFTER_S``, and again
    every ``NOTE_EVERY_S``."""

    NOTE_AFTER_S = 10.0
    NOTE_EVERY_S = 30.0

    def __init__(self, task_id: str, *, enabled: bool, has_reference: bool = False) -> None:
        self.console = client.console(stderr=True)
        self.enabled = enabled
        self.has_reference = has_reference
        self.simulated = False
        self.counts = RoundCounts()
        self.round = 1
        self.deadline_at: float | None = None
        self.warned: set[str] = set()
        self.status: Status | None = None
        self._phase: tuple[int, str] = (1, "proposing")
        self._phase_since = time.time()
        self._noted = 0.0
        if enabled:
            self.console.print(f"task {task_id}")
            if self.console.is_terminal:
                self.status = self.console.status("waiting for the broker…")
                self.status.start()

    def on_event(self, event: Any) -> None:
        if isinstance(event, TeamSelected) and event.deadline_at is not None:
            self.deadline_at = event.deadline_at
        if isinstance(event, RoundContinued):
            self.round = event.next_round
        if isinstance(event, TeamSelected) and self.enabled:
            for warning in warning_lines(event.warnings, self.warned):
                self.console.print(warning, markup=False)
            self.warned.update(event.warnings)
        if is_simulated(event) and not self.simulated:
            self.simulated = True
            for notice in simulated_notice(self.has_reference) if self.enabled else ():
                self.console.print(notice, markup=False, soft_wrap=True)
        line = describe(event, self.counts)
        if self.enabled and line:
            self.console.print(line, soft_wrap=True)
        self.tick(time.time())

    def tick(self, now: float) -> None:
        phase, waiting = self.counts.waiting(self.round)
        if (self.round, phase) != self._phase:
            self._phase, self._phase_since, self._noted = (self.round, phase), now, 0.0
        if not self.enabled or not self.counts.agents:
            return
        who = ", ".join(waiting) if waiting else "the tally"
        if self.status is not None:
            proposals = self.counts.proposals.get(self.round, 0)
            ballots = self.counts.ballots.get(self.round, 0)
            team = self.counts.team or "?"
            self.status.update(
                f"round {self.round} · {phase} · proposals {proposals}/{team} · "
                f"ballots {ballots}/{team} · waiting for {who}"
            )
            return
        waited = now - self._phase_since
        if waited >= self.NOTE_AFTER_S and now - self._noted >= self.NOTE_EVERY_S:
            self._noted = now
            self.console.print(
                f"round {self.round}: {phase} for {waited:.0f}s, waiting for {who}", soft_wrap=True
            )

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
