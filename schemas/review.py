"""Step 3 — review: ``ReviewRequested`` (reviewer → agent) and ``ReviewSubmitted`` (agent →
reviewer). Candidates are identity-masked under shuffled labels."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.base import AgentId, Event, Struct, Usage
from schemas.limits import (
    CATEGORIES,
    CLAIMS_PER_ENTRY,
    MAX_READING_TEAM,
    RUBRIC_CHARS,
    CandidateLabel,
    Content,
    Duration,
    Epoch,
    ErrorText,
    Excerpt,
    Justification,
    Label,
    Name,
    Quote,
    ReviewLabel,
    RunnerNotes,
    SeatNumber,
    text,
)
from schemas.propose import CallStatus
from schemas.task import RoleInstruction, TaskView

Verdict = Literal["verified", "contested", "unverified", "wrong"]


class Candidate(Struct, frozen=True, kw_only=True):
    label: CandidateLabel
    content: Content
    reasoning_excerpt: Excerpt = ""


class Claim(Struct, frozen=True, kw_only=True):
    quote: Quote
    verdict: Verdict = "unverified"


class ReviewEntry(Struct, frozen=True, kw_only=True):
    label: ReviewLabel
    # Not bounded here: the reviewer clamps it, and drops an entry whose weight is not finite.
    weight: float
    categories: Annotated[dict[Label, float], msgspec.Meta(max_length=CATEGORIES)] = msgspec.field(
        default_factory=dict
    )
    justification: Justification = ""
    claims: Annotated[tuple[Claim, ...], msgspec.Meta(max_length=CLAIMS_PER_ENTRY)] = ()


class ReviewRequested(Event, tag="review.requested", frozen=True, kw_only=True):
    seat: SeatNumber
    agent_id: AgentId
    task: TaskView
    candidates: Annotated[tuple[Candidate, ...], msgspec.Meta(max_length=MAX_READING_TEAM)]
    own: Candidate | None = None  # the reviewer's own proposal, shown as its baseline
    rubric: Annotated[str, text(RUBRIC_CHARS)] = ""
    deadline: Epoch
    role: Label = "member"  # the reviewing seat's role, as in its ProposeRequested
    role_instruction: RoleInstruction | None = None


class ReviewSubmitted(Event, tag="review.submitted", frozen=True, kw_only=True):
    seat: SeatNumber
    agent_id: AgentId
    instance_id: Name = ""
    entries: Annotated[tuple[ReviewEntry, ...], msgspec.Meta(max_length=MAX_READING_TEAM)] = ()
    usage: Usage = Usage()
    latency_s: Duration = 0.0
    status: CallStatus = "ok"
    error: ErrorText | None = None
    # What the runner cut from the model's review to fit the bounds (as on a proposal).
    notes: RunnerNotes = ()
