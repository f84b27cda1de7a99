"""A task's events as one decodable union (pure): what a follower of
``nsed.events.<task_id>.>`` and the task's result may receive. The CLI's progress and the
gateway's feed and web view decode with the same ``event_decoder``."""

from __future__ import annotations

from typing import Any, Union

import msgspec

from schemas.gate import CancelRequested, DeliberationConcluded, RoundContinued
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskRefused
from schemas.team import TeamSelected

TaskEvent = Union[  # noqa: UP007 - a runtime union for msgspec
    TaskRefused,
    TeamSelected,
    ProposalSubmitted,
    ReviewSubmitted,
    TallyComputed,
    RoundContinued,
    CancelRequested,
    DeliberationConcluded,
]
event_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(TaskEvent)
