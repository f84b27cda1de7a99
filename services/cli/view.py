"""What a follower of one task knows from its events, and the lines it shows (pure).

Consumes the task's events (``nsed.events.<task_id>.>``) and its result. ``RoundCounts``
keeps the team, who proposed and who balloted per round (a review is its seat's ballot;
the tally carries every ballot, absent ones included), and the cost so far;
``lines_for`` gives the lines one event calls for, once per event: ``member_notes`` (a
member timed out or was replaced, and why), then ``describe`` (at most one line). The
rest word the summary, the warnings and the simulated-agents notice.
``Progress`` (services/cli/progress.py) and ``nsed watch`` print them.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from schemas.ballot import Ballot
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.team import TeamSelected


@dataclass
class RoundCounts:
    team: int = 0
    proposals: dict[int, int] = field(default_factory=dict)
    ballots: dict[int, int] = field(default_factory=dict)
    agents: dict[int, str] = field(default_factory=dict)  # seat -> agent id
    proposed: dict[int, set[int]] = field(default_factory=dict)  # round -> seats
    answered: dict[int, set[int]] = field(default_factory=dict)  # round -> seats, ok
    balloted: dict[int, set[int]] = field(default_factory=dict)  # round -> seats
    cost_usd: float = 0.0  # every proposal and review so far
    phase_timeout_s: float | None = None
    seen: set[str] = field(default_factory=set)  # message ids: a redelivery says nothing
    noted: set[tuple[int, int, str]] = field(default_factory=set)  # (round, seat, what)

    def waiting(self, round_number: int) -> tuple[str, list[str]]:
        """The round's phase as seen from its events, and the members it waits for: the
        seats without a proposal, then the reviewers (seats with an ok proposal) without a
        review."""
        proposed = self.proposed.get(round_number, set())
        missing = [a for seat, a in sorted(self.agents.items()) if seat not in proposed]
        if missing:
            return "proposing", missing
        balloted = self.balloted.get(round_number, set())
        reviewers = self.answered.get(round_number, set())
        return "reviewing", [
            a for seat, a in sorted(self.agents.items()) if seat in reviewers - balloted
        ]


def lines_for(event: Any, counts: RoundCounts) -> list[str]:
    """Every line one event calls for; nothing for an event already seen."""
    message_id = getattr(event, "message_id", None)
    if message_id is not None:
        if message_id in counts.seen:
            return []
        counts.seen.add(message_id)
    notes = member_notes(event, counts)  # first: it compares with the team as it was
    line = describe(event, counts)
    return [*notes, line] if line else notes


def member_notes(event: Any, counts: RoundCounts) -> list[str]:
    """A member that timed out (the result's notes say the same), or that left the pool
    and was replaced for this round."""
    if isinstance(event, TeamSelected) and event.round > 1 and counts.agents:
        now = {s.seat: s.agent_id for s in event.seats}
        return [
            f"round {event.round}: {before} is no longer live (it left the pool); "
            + (f"{now[seat]} takes its seat {seat}" if seat in now else f"seat {seat} stays empty")
            for seat, before in sorted(counts.agents.items())
            if now.get(seat) != before
        ]
    if isinstance(event, TallyComputed):
        # The tally carries every seat's ballot: a timed-out review, and a seat without a
        # proposal (protocols without review say nothing else about it), are said here.
        found = [line for b in event.ballots for line in _ballot_notes(counts, b)]
        proposed = counts.proposed.get(event.round, set())
        balloted = counts.balloted.get(event.round, set()) | {b.seat for b in event.ballots}
        return found + [
            line
            for seat in sorted(balloted - proposed)
            for line in _late(counts, event.round, seat, counts.agents.get(seat, "?"), "propose")
        ]
    return []


def _ballot_notes(counts: RoundCounts, ballot: Ballot) -> list[str]:
    if "review timed out" in ballot.notes:
        return _late(counts, ballot.round, ballot.seat, ballot.agent_id, "review")
    if any(note.startswith("no proposal in time") for note in ballot.notes):
        return _late(counts, ballot.round, ballot.seat, ballot.agent_id, "propose")
    return []


def _late(counts: RoundCounts, round_number: int, seat: int, who: str, phase: str) -> list[str]:
    if (round_number, seat, phase) in counts.noted:
        return []
    counts.noted.add((round_number, seat, phase))
    limit = f" ({counts.phase_timeout_s:.0f}s a phase)" if counts.phase_timeout_s else ""
    return [f"round {round_number}: seat {seat} ({who}) did not {phase} in time{limit}"]


def describe(event: Any, counts: RoundCounts) -> str | None:
    if isinstance(event, TeamSelected):
        counts.team = len(event.seats)
        counts.phase_timeout_s = event.phase_timeout_s or counts.phase_timeout_s
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
    if isinstance(event, ProposalSubmitted | ReviewSubmitted):
        counts.cost_usd += event.usage.cost_usd
    if isinstance(event, ReviewSubmitted):  # the seat's ballot, as the voter will count it
        _balloted(counts, event.round, {event.seat})
    if isinstance(event, ReviewSubmitted) and event.status != "ok":
        return f"round {event.round}: {event.agent_id} review {event.status}: {event.error}"
    if isinstance(event, ProposalSubmitted):
        counts.proposals[event.round] = counts.proposals.get(event.round, 0) + 1
        counts.proposed.setdefault(event.round, set()).add(event.seat)
        if event.status == "ok":
            counts.answered.setdefault(event.round, set()).add(event.seat)
        if event.status != "ok":
            return f"round {event.round}: {event.agent_id} {event.status}: {event.error}"
        return None
    if isinstance(event, TallyComputed):
        _balloted(counts, event.round, {b.seat for b in event.ballots})
        winner = next((s for s in event.scores if s.proposal_id == event.winner), None)
        who = winner.agent_id if winner else "nobody"
        quorum = "" if event.quorum_met else " · below quorum"
        unanimous = " · unanimous" if event.unanimous else ""
        return (
            f"round {event.round}: winner {who} · conviction {event.conviction:.2f} · "
            f"{event.ok_proposals} proposals, {event.valid_ballots} valid ballots"
            f"{unanimous}{quorum} · ${counts.cost_usd:.6f} so far"
        )
    if isinstance(event, RoundContinued):
        tokens = event.state.tokens
        return f"round {event.round}: continue → round {event.next_round} ({tokens} state tokens)"
    return None


def _balloted(counts: RoundCounts, round_number: int, seats: set[int]) -> None:
    balloted = counts.balloted.setdefault(round_number, set())
    balloted |= seats
    counts.ballots[round_number] = len(balloted)


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
