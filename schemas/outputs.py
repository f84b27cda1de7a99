"""What each handler of the round emits, as named unions, in round order.

A handler that emits at most one message returns its union (or ``None``), one that may
emit several a sequence of it; each route's ``emits`` is ``members`` of its handler's
union, so the declared types and the returned ones are stated once. ``AgentWork`` is the
one input of two types: what the broker and the reviewer ask of an agent.
"""

from __future__ import annotations

import types
from typing import Any, TypeAlias, get_args

from schemas.ballot import VotingOpened
from schemas.base import Message
from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.task import TaskRefused
from schemas.team import TeamSelected
from schemas.timers import PhaseDue

# broker: a round dispatched (``on_continued``), and intake (``on_task``), which may also
# end a task no team can serve, or refuse a task whose id another task holds.
Dispatch: TypeAlias = TeamSelected | ProposeRequested | PhaseDue
Intake: TypeAlias = Dispatch | DeliberationConcluded | TaskRefused | DeadLetter
# agent runner: the work it takes, and what it answers.
AgentWork: TypeAlias = ProposeRequested | ReviewRequested
AgentOutput: TypeAlias = ProposalSubmitted | ReviewSubmitted
# reviewer: what opening review calls for (``on_proposal``, ``on_timer``): the requests
# and the reviewing timer, or for a round nobody reviews one ``VotingOpened``.
ReviewStep: TypeAlias = ReviewRequested | VotingOpened | PhaseDue
# voter: one ``TallyComputed`` (on a review, ``VotingOpened`` or its reviewing timer).
# gate: the round goes on, or the task ends (a timer or a cancel only ends it).
GateOutcome: TypeAlias = RoundContinued | DeliberationConcluded


def members(union: Any) -> tuple[type[Message], ...]:
    """The message types of a union (or the one type), as a route declares them."""
    if isinstance(union, types.UnionType):
        return tuple(get_args(union))
    return (union,)
