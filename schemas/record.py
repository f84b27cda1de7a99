"""The deliberation record (KV ``nsed_deliberations``, key = task id).

The record, not the messages, carries the round: every phase transition is a compare-and-
set on the record's KV revision, by the one service that owns it, computed by one pure
function (``services/<path>.<function>``); what a service then emits is a function of the
resulting record, so a redelivered message emits it again, unchanged. A trigger (*) is a
message that carries nothing the record lacks: its handler reads the record, not it.

| transition | owner | on | pure function |
|---|---|---|---|
| none → `proposing` 1, or `done` | broker | `TaskSubmitted` | `broker/transitions.new_record` |
| `proposing` → `reviewing` | reviewer | `ProposalSubmitted` | `reviewer/phases.add_proposal` |
| `proposing` → `reviewing` | reviewer | `PhaseDue` proposing* | `reviewer/phases.close_proposing` |
| `reviewing` → `gating` | voter | `ReviewSubmitted` | `voter/ballots.add_ballot` |
| `reviewing` → `gating` | voter | `PhaseDue` reviewing* | `voter/ballots.close_reviewing` |
| `voting` → `gating` | voter | `VotingOpened`* | `voter/tally.close_voting` |
| `gating` → `proposing` r+1, or `done` | gate | `TallyComputed`* | `gate/rounds.close_round` |
| `proposing` r+1: team confirmed | broker | `RoundContinued`* | `broker/transitions.confirm_team` |
| any → `done` | gate | `PhaseDue` task* | `gate/early.conclude_at_deadline` |
| any → `done` | gate | `CancelRequested` | `gate/early.cancel` |
| none: a late call is paid | reviewer | `ProposalSubmitted` | `core/ledger.pay_late` |
| none: a late call is paid | voter | `ReviewSubmitted` | `core/ledger.pay_late` |

What each emits: a new record, its team, the task's deadline timer, one ``ProposeRequested``
per seat and the proposing timer (``broker/dispatch.opening_messages``), or its ``no_team``
result; entering ``reviewing``, one ``ReviewRequested`` per reviewer and the reviewing
timer (the voter's); entering ``voting`` from ``proposing`` (the protocols without review,
or a round nobody can review: every ballot is absent), one ``VotingOpened`` (both
``reviewer/phases.review_outputs``); ``gating``, the ``TallyComputed`` with every ballot
(``voter/tally.published``; the voter fills the ballot box and tallies in one write, so a
reviewed round passes ``voting`` within it); the gate, ``RoundContinued`` or the one
``DeliberationConcluded``; a continued round, its re-selected team and its dispatch
(``broker/dispatch.continued_round``; the broker writes the record only when a member
left and the team changed). The record holds what the current round has gathered;
finished rounds are folded into ``summaries``, the consensus ``state`` and per-seat
``feedback``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.ballot import Ballot
from schemas.base import Struct, Usage
from schemas.gate import DeliberationConcluded, RoundContinued, RoundSummary
from schemas.propose import ConsensusState, ProposalSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskSubmitted
from schemas.team import Seat, TeamSelected

Phase = Literal["proposing", "reviewing", "voting", "gating", "done"]


class RoundState(Struct, frozen=True, kw_only=True):
    number: int
    phase: Phase
    phase_deadline: float
    team: tuple[Seat, ...]
    started_at: float = 0.0
    proposals: tuple[ProposalSubmitted, ...] = ()  # in arrival order
    timed_out: tuple[int, ...] = ()  # seats whose proposal never came
    # reviewer seat -> label -> proposal_id
    packets: dict[int, dict[str, str]] = msgspec.field(default_factory=dict)
    ballots: tuple[Ballot, ...] = ()
    tally: TallyComputed | None = None  # stored without its ``ballots`` (the ones above)
    usage: dict[str, Usage] = msgspec.field(default_factory=dict)  # this round, per agent
    # The broker confirmed (or re-selected) this round's team; until then nothing is sent.
    selected: bool = True

    def proposal_of(self, seat: int) -> ProposalSubmitted | None:
        return next((p for p in self.proposals if p.seat == seat), None)

    def ballot_of(self, seat: int) -> Ballot | None:
        return next((b for b in self.ballots if b.seat == seat), None)

    def ok_proposals(self) -> list[ProposalSubmitted]:
        return [p for p in self.proposals if p.status == "ok"]

    def seats(self) -> list[int]:
        return [s.seat for s in self.team]


class DeliberationRecord(Struct, frozen=True, kw_only=True):
    task_id: str
    task: TaskSubmitted
    created_at: float
    deadline_at: float
    phase_timeout_s: float
    current: RoundState
    team_selected: TeamSelected | None = None
    state: ConsensusState = msgspec.field(default_factory=ConsensusState)
    feedback: dict[int, tuple[str, ...]] = msgspec.field(default_factory=dict)
    previous_answers: dict[int, str] = msgspec.field(default_factory=dict)
    summaries: tuple[RoundSummary, ...] = ()
    usage: dict[str, Usage] = msgspec.field(default_factory=dict)
    evidence: float = 0.0
    last_winner: ProposalSubmitted | None = None  # the latest supported winner: the answer
    # The latest round's leading proposal when no round since the last supported winner
    # gave any proposal positive support (the answer of a ``no_consensus`` result).
    last_leader: ProposalSubmitted | None = None
    continued: RoundContinued | None = None
    result: DeliberationConcluded | None = None
    # The task-deadline timer, not a tally, concluded it: only a redelivery of that timer
    # (after a crash) emits the result again.
    concluded_by_timer: bool = False
    # Message ids of calls whose phase closed without them: paid for if they still arrive
    # (services/core/ledger.py).
    unpaid_calls: tuple[str, ...] = ()
    # The stream position of the message that created the record: a redelivery of it emits
    # the same messages again; the same task sent anew gets its result again.
    intake_seq: int = 0
    traceparent: str | None = None  # the task's root span (see services/_runtime/tracing)
    client_traceparent: str | None = None  # the client's span the root continues, if any
    simulated: bool = False
    warnings: tuple[str, ...] = ()  # the task's unknown fields, reported on team and result

    @property
    def done(self) -> bool:
        return self.result is not None

    def spend_usd(self) -> float:
        return sum(u.cost_usd for u in self.usage.values())
