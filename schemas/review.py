"""Step 3 — review: ``ReviewRequested`` (reviewer → agent) and ``ReviewSubmitted`` (agent →
reviewer). Candidates are identity-masked under shuffled labels."""

from __future__ import annotations

from typing import Literal

import msgspec

from schemas.base import AgentId, Event, Struct, Usage
from schemas.propose import CallStatus
from schemas.task import TaskView

Verdict = Literal["verified", "contested", "unverified", "wrong"]


class Candidate(Struct, frozen=True, kw_only=True):
    label: str
    content: str
    reasoning_excerpt: str = ""


class Claim(Struct, frozen=True, kw_only=True):
    quote: str
    verdict: Verdict = "unverified"


class ReviewEntry(Struct, frozen=True, kw_only=True):
    label: str
    weight: float
    categories: dict[str, float] = msgspec.field(default_factory=dict)
    justification: str = ""
    claims: tuple[Claim, ...] = ()


class ReviewRequested(Event, tag="review.requested", frozen=True, kw_only=True):
    seat: int
    agent_id: AgentId
    task: TaskView
    candidates: tuple[Candidate, ...]
    own: Candidate | None = None  # the reviewer's own proposal, shown as its baseline
    rubric: str = ""
    deadline: float
    role: str = "member"  # the reviewing seat's role, as in its ProposeRequested
    role_instruction: str | None = None


class ReviewSubmitted(Event, tag="review.submitted", frozen=True, kw_only=True):
    seat: int
    agent_id: AgentId
    instance_id: str = ""
    entries: tuple[ReviewEntry, ...] = ()
    usage: Usage = Usage()
    latency_s: float = 0.0
    status: CallStatus = "ok"
    error: str | None = None
