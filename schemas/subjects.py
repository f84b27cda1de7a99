"""Every subject, stream and KV bucket name, and the round's flow table, in round order.

Nothing else in the project spells a subject. A message type maps to exactly one subject
template; the runtime derives a message's subject and its ``Nats-Msg-Id`` from the message,
so handlers return plain messages and never see a subject or a header.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from schemas.ballot import VotingOpened
from schemas.base import Message
from schemas.dlq import DeadLetter
from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from schemas.timers import PhaseDue

# Streams -------------------------------------------------------------------------------
NSED_TASKS: Final = "NSED_TASKS"
NSED_WORK: Final = "NSED_WORK"
NSED_EVENTS: Final = "NSED_EVENTS"
NSED_RESULTS: Final = "NSED_RESULTS"
NSED_DLQ: Final = "NSED_DLQ"
NSED_TIMERS: Final = "NSED_TIMERS"

# KV buckets ----------------------------------------------------------------------------
AGENTS_BUCKET: Final = "nsed_agents"
DELIBERATIONS_BUCKET: Final = "nsed_deliberations"
STATS_BUCKET: Final = "nsed_telemetry"
# A task's reference answer (key: task id), the simulation's oracle: kept out of the
# records so that an agent's principal never needs to read those.
REFERENCES_BUCKET: Final = "nsed_references"

# Subjects ------------------------------------------------------------------------------
TASKS: Final = "nsed.tasks"
WORK_PROPOSE: Final = "nsed.work.{agent_id}.propose"
WORK_REVIEW: Final = "nsed.work.{agent_id}.review"
EVENT_REFUSED: Final = "nsed.events.{task_id}.refused"
EVENT_TEAM: Final = "nsed.events.{task_id}.team"
# An agent's outputs carry its id: its NATS principal may publish on its own subjects only,
# and the reviewer (proposals) and the voter (reviews) drop a message whose subject names
# another agent than its body.
EVENT_PROPOSAL: Final = "nsed.events.{task_id}.proposal.{agent_id}"
EVENT_REVIEW: Final = "nsed.events.{task_id}.review.{agent_id}"
EVENT_VOTING: Final = "nsed.events.{task_id}.voting"
EVENT_TALLY: Final = "nsed.events.{task_id}.tally"
EVENT_CONTINUED: Final = "nsed.events.{task_id}.continued"
EVENT_CANCEL: Final = "nsed.events.{task_id}.cancel"
RESULTS: Final = "nsed.results.{task_id}"
# A result is published and kept under CONCLUDED; the results stream republishes each one it
# has stored, once, on RESULTS, where clients listen.
CONCLUDED: Final = "nsed.concluded.{task_id}"
DLQ: Final = "nsed.dlq.{service}"
TIMERS: Final = "nsed.timers.{owner}"
# Where a timer waits until it is due: the server then publishes it to TIMERS. The server
# keeps one schedule per subject, the last one published: arming a round's timer replaces
# the previous round's (whose phase is over by then), so only a task's last round's timers
# ever fall due. (Before, the subject named the round too: every round's timers fell due.)
TIMER_SCHEDULES: Final = "nsed.timers.schedule.{task_id}.{phase}"

STREAM_SUBJECTS: Final[dict[str, str]] = {
    NSED_TASKS: TASKS,
    NSED_WORK: "nsed.work.>",
    NSED_EVENTS: "nsed.events.>",
    NSED_RESULTS: "nsed.concluded.>",
    NSED_DLQ: "nsed.dlq.>",
    NSED_TIMERS: "nsed.timers.>",
}
# Streams that deliver what they store on subjects of their own: stored → delivered.
REPUBLISHED: Final[dict[str, tuple[str, str]]] = {
    NSED_RESULTS: ("nsed.concluded.>", "nsed.results.>"),
}


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the flow table: a message, where it travels, who sends and who reads it."""

    message: type[Message]
    subject: str
    stream: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]


# The round, in order. ``observers`` are people and tools (``nsed watch``, ``nats sub``).
FLOW: Final[tuple[Step, ...]] = (
    Step(message=TaskSubmitted, subject=TASKS, stream=NSED_TASKS,
         producers=("client",), consumers=("broker",)),
    Step(message=TaskRefused, subject=EVENT_REFUSED, stream=NSED_EVENTS,
         producers=("broker",), consumers=("client",)),
    Step(message=TeamSelected, subject=EVENT_TEAM, stream=NSED_EVENTS,
         producers=("broker",), consumers=("observers",)),
    Step(message=ProposeRequested, subject=WORK_PROPOSE, stream=NSED_WORK,
         producers=("broker",), consumers=("agent_runner",)),
    Step(message=ProposalSubmitted, subject=EVENT_PROPOSAL, stream=NSED_EVENTS,
         producers=("agent_runner",), consumers=("reviewer",)),
    Step(message=ReviewRequested, subject=WORK_REVIEW, stream=NSED_WORK,
         producers=("reviewer",), consumers=("agent_runner",)),
    Step(message=ReviewSubmitted, subject=EVENT_REVIEW, stream=NSED_EVENTS,
         producers=("agent_runner",), consumers=("voter",)),
    # Only for a round that opened no review (nobody reviews): the voter's one trigger.
    Step(message=VotingOpened, subject=EVENT_VOTING, stream=NSED_EVENTS,
         producers=("reviewer",), consumers=("voter",)),
    Step(message=TallyComputed, subject=EVENT_TALLY, stream=NSED_EVENTS,
         producers=("voter",), consumers=("gate",)),
    Step(message=RoundContinued, subject=EVENT_CONTINUED, stream=NSED_EVENTS,
         producers=("gate",), consumers=("broker",)),
    Step(message=CancelRequested, subject=EVENT_CANCEL, stream=NSED_EVENTS,
         producers=("client",), consumers=("gate",)),
    Step(message=DeliberationConcluded, subject=CONCLUDED, stream=NSED_RESULTS,
         producers=("gate", "broker"), consumers=("client",)),  # clients: RESULTS
    Step(message=PhaseDue, subject=TIMERS, stream=NSED_TIMERS,
         producers=("broker", "reviewer"), consumers=("reviewer", "voter", "gate")),
    Step(message=DeadLetter, subject=DLQ, stream=NSED_DLQ,
         producers=("broker", "agent_runner", "reviewer", "voter", "gate"),
         consumers=("observers",)),
)  # fmt: skip

_BY_TYPE: Final[dict[type[Message], Step]] = {step.message: step for step in FLOW}
_FIELD = re.compile(r"\{(\w+)\}")


def step_of(message_type: type[Message]) -> Step:
    return _BY_TYPE[message_type]


def subject_for(message: Message) -> str:
    """The concrete subject of a message, filled from its own fields."""
    template = _BY_TYPE[type(message)].subject
    return _FIELD.sub(lambda m: str(_field(message, m.group(1))), template)


def filter_for(message_type: type[Message], **fixed: str) -> str:
    """A consumer filter for a message type: named fields fixed, the rest wildcards."""
    return fill(_BY_TYPE[message_type].subject, **fixed)


def fill(template: str, **fixed: str) -> str:
    """A subject template with the named fields fixed and the rest wildcards."""
    return _FIELD.sub(lambda m: fixed.get(m.group(1), "*"), template)


def stream_for(message_type: type[Message]) -> str:
    return _BY_TYPE[message_type].stream


def results(task_id: str) -> str:
    """Where a client hears a task's result (the results stream republishes it there)."""
    return RESULTS.format(task_id=task_id)


def concluded(task_id: str) -> str:
    """Where the results stream keeps a task's results."""
    return CONCLUDED.format(task_id=task_id)


def task_events(task_id: str) -> str:
    """Every event of one task, for watchers."""
    return EVENT_TEAM.format(task_id=task_id).rsplit(".", 1)[0] + ".>"


def timer_schedule(message: PhaseDue) -> str:
    """The subject a timer is scheduled on (one per task and phase, whatever the round)."""
    return TIMER_SCHEDULES.format(task_id=message.task_id, phase=message.phase)


def dlq(service: str) -> str:
    return DLQ.format(service=service)


def agent_work(agent_id: str) -> str:
    """All work of one agent: the filter of its shared durable consumer."""
    return WORK_PROPOSE.format(agent_id=agent_id).rsplit(".", 1)[0] + ".>"


def agent_key(agent_id: str, instance_id: str) -> str:
    """The ``nsed_agents`` key of one runner instance."""
    return f"{agent_id}.{instance_id}"


def _field(message: Message, name: str) -> Any:
    if name == "owner" and isinstance(message, PhaseDue):
        return message.owner
    return getattr(message, name)


def kv_subject(bucket: str, key: str) -> str:
    """The subject a KV bucket stores ``key`` under (used to put with a per-message TTL)."""
    return f"$KV.{bucket}.{key}"
