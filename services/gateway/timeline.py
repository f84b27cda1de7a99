"""A deliberation as its events tell it (pure): the team, and for each round its
proposals, reviews, ballots, tally and the gate's decision, then the result.

Consumes a task's events (``nsed.events.<task_id>.>``: ``TeamSelected``,
``ProposalSubmitted``, ``ReviewSubmitted``, ``TallyComputed`` (which carries the round's
ballots), ``RoundContinued``, ``TaskRefused``) and its ``DeliberationConcluded``, in any
order and with redeliveries (a message id seen before changes nothing). Emits a
``Timeline`` that ``services/gateway/pages.py`` renders.

The record keeps only the current round in full, so earlier rounds are known from their
events alone. The masked labels each reviewer saw are made again as the reviewer made them
(``services/reviewer/packets.py``, seeded by task, round and seat) from the proposals the
round closed with, which its tally names: before the tally that set is not final (a
proposal may still be on its way, or arrive after its seat timed out), and no label is
shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.ballot import Ballot
from schemas.base import Usage
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskRefused
from schemas.team import Seat, TeamSelected
from services.reviewer.packets import build_packets


@dataclass
class RoundView:
    number: int
    team: tuple[Seat, ...] = ()
    proposals: dict[str, ProposalSubmitted] = field(default_factory=dict)  # arrival order
    reviews: dict[int, ReviewSubmitted] = field(default_factory=dict)  # seat -> review
    ballots: dict[int, Ballot] = field(default_factory=dict)  # seat -> ballot, at the tally
    tally: TallyComputed | None = None
    continued: RoundContinued | None = None

    def candidates(self) -> list[ProposalSubmitted]:
        """The proposals the round votes on, in seat order: those its tally scored, or
        before the tally every ok proposal so far."""
        if self.tally is not None:
            scored = {s.proposal_id for s in self.tally.scores}
            chosen = [p for p in self.proposals.values() if p.proposal_id in scored]
        else:
            chosen = [p for p in self.proposals.values() if p.status == "ok"]
        return sorted(chosen, key=lambda p: p.seat)

    def reviewers(self) -> list[int]:
        """Seats that sent a review or were given a ballot, in seat order."""
        return sorted(set(self.ballots) | set(self.reviews))

    def labels(self, task_id: str, seat: int) -> dict[str, str]:
        """proposal id → the masked label reviewer ``seat`` saw it under: its packet, made
        as the reviewer made it from the proposals the round closed with (the tally's ok
        ones, and the rest). Empty until the tally fixes them, and for a seat that was
        sent no packet (no proposal of its own to stand on, or no other agent's)."""
        if self.tally is None or not self.reviewed():
            return {}
        scored = {s.proposal_id for s in self.tally.scores}
        closed = [p for p in self.proposals.values() if p.status != "ok" or p.proposal_id in scored]
        packet = build_packets(task_id, self.number, closed).get(seat, {})
        return {pid: label for label, pid in packet.items()}

    def reviewed(self) -> bool:
        """Whether anyone reviewed in this round: a review came back, or a ballot counted.
        The protocols without review send no packets, only absent ballots."""
        return bool(self.reviews) or any(b.valid for b in self.ballots.values())

    def vote(self, seat: int, proposal_id: str) -> float | None:
        """The tally's vote s[i, j] of reviewer ``seat`` on a proposal, if it counted."""
        if self.tally is None:
            return None
        return self.tally.votes.get(seat, {}).get(proposal_id)

    def weight(self, seat: int, proposal_id: str) -> float | None:
        """The reviewer's validated weight on a proposal, in [-100, 100]."""
        ballot = self.ballots.get(seat)
        return None if ballot is None else ballot.weights.get(proposal_id)

    def winner(self) -> ProposalSubmitted | None:
        if self.tally is None or self.tally.winner is None:
            return None
        return self.proposals.get(self.tally.winner)


@dataclass
class Timeline:
    task_id: str
    rounds: dict[int, RoundView] = field(default_factory=dict)
    selections: list[TeamSelected] = field(default_factory=list)  # in round order
    result: DeliberationConcluded | None = None
    refused: TaskRefused | None = None
    seen: set[str] = field(default_factory=set)

    def apply(self, event: Any) -> bool:
        """Fold one event in; False when it was seen before or is not this task's."""
        if getattr(event, "task_id", None) != self.task_id:
            return False
        message_id = getattr(event, "message_id", None)
        if isinstance(message_id, str):
            if message_id in self.seen:
                return False
            self.seen.add(message_id)
        return self._fold(event)

    def _fold(self, event: Any) -> bool:
        if isinstance(event, DeliberationConcluded):
            self.result = event
        elif isinstance(event, TaskRefused):
            self.refused = event
        elif isinstance(event, TeamSelected):
            self.selections = sorted([*self.selections, event], key=lambda t: t.round)
            for view in self.rounds.values():
                view.team = self.team_of(view.number)
        elif isinstance(event, ProposalSubmitted):
            self.round(event.round).proposals[event.proposal_id] = event
        elif isinstance(event, ReviewSubmitted):
            self.round(event.round).reviews[event.seat] = event
        elif isinstance(event, TallyComputed):
            view = self.round(event.round)
            view.tally = event
            view.ballots.update({b.seat: b for b in event.ballots})
        elif isinstance(event, RoundContinued):
            self.round(event.round).continued = event
        else:
            return False
        return True

    def round(self, number: int) -> RoundView:
        if number not in self.rounds:
            self.rounds[number] = RoundView(number=number, team=self.team_of(number))
        return self.rounds[number]

    def ordered_rounds(self) -> list[RoundView]:
        return [self.rounds[n] for n in sorted(self.rounds) if n >= 1]

    def team_of(self, number: int) -> tuple[Seat, ...]:
        """The team that sat round ``number``: the latest selection made for it or before."""
        chosen = [t for t in self.selections if t.round <= number] or self.selections[:1]
        return chosen[-1].seats if chosen else ()

    def team(self) -> tuple[Seat, ...]:
        if self.result is not None and self.result.team:
            return self.result.team
        return self.selections[-1].seats if self.selections else ()

    def usage(self) -> dict[str, Usage]:
        """Tokens and cost per agent: the result's ledger once there is one (it also counts
        calls that came back late), else every proposal and review seen so far."""
        if self.result is not None:
            return dict(self.result.usage)
        totals: dict[str, Usage] = {}
        for view in self.rounds.values():
            calls: list[ProposalSubmitted | ReviewSubmitted] = [
                *view.proposals.values(),
                *view.reviews.values(),
            ]
            for call in calls:
                totals[call.agent_id] = totals.get(call.agent_id, Usage()) + call.usage
        return totals

    def evidence(self) -> dict[int, float]:
        """E(r) after each round: the result's summaries, else the gate's decisions."""
        if self.result is not None and self.result.summaries:
            return {s.round: s.evidence for s in self.result.summaries}
        return {v.number: v.continued.evidence for v in self.ordered_rounds() if v.continued}

    @property
    def done(self) -> bool:
        return self.result is not None or self.refused is not None
