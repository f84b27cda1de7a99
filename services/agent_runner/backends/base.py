"""The backend protocol every agent kind implements, and what it returns.

BackendError    the model call failed for good (after any retries); the runner turns it
                into a proposal or review with ``status="error"`` and the reason
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemas.propose import ProposeRequested
from schemas.review import ReviewEntry, ReviewRequested
from services._runtime.errors import NsedError


class BackendError(NsedError):
    """A model call that failed; carries a reason a person can act on."""


@dataclass(frozen=True)
class ProposalDraft:
    content: str
    reasoning: str | None
    input_tokens: int
    output_tokens: int
    latency_s: float


@dataclass(frozen=True)
class ReviewDraft:
    entries: tuple[ReviewEntry, ...]
    input_tokens: int
    output_tokens: int
    latency_s: float
    notes: tuple[str, ...] = field(default=())


class AgentBackend(Protocol):
    simulated: bool

    async def propose(self, request: ProposeRequested) -> ProposalDraft: ...

    async def review(self, request: ReviewRequested) -> ReviewDraft: ...

    async def aclose(self) -> None: ...
