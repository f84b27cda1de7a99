"""Whatever the members write, every message the services emit is one the bounds admit
(schemas/limits.py): whole deliberations of every protocol, with agents whose every output
is far over the limits and names their team (masking lengthens such text), end with one
result, and every message on the way decodes as a service receiving it would."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest

from schemas import limits
from schemas.base import Message
from schemas.propose import ProposeRequested
from schemas.record import DeliberationRecord
from schemas.review import Claim, ReviewEntry, ReviewRequested
from schemas.task import Policy, TaskSubmitted
from services.agent_runner.backends.base import AgentBackend, ProposalDraft, ReviewDraft
from services.inmemory import InMemoryServices
from tests.unit.system.test_pipeline_sim import Bus

# Masking turns each name into "[a member]": a text of short names grows by a fifth.
NAMES = "qwen3-8b "


class Verbose:
    """A member whose answers are the simulated one's, buried in far too much text."""

    simulated = True

    def __init__(self, inner: AgentBackend) -> None:
        self.inner = inner

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        draft = await self.inner.propose(request)
        padding = NAMES * (3 * limits.CONTENT_CHARS // len(NAMES))
        return replace(
            draft,
            content=padding + draft.content,
            reasoning=NAMES * (2 * limits.REASONING_CHARS // len(NAMES)),
        )

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        draft = await self.inner.review(request)
        shown = {c.label: c.content for c in request.candidates}
        entries = (
            tuple(replace_entry(e, shown.get(e.label, "")) for e in draft.entries) * 2
        )  # every candidate twice: too many entries
        return replace(draft, entries=entries)

    async def aclose(self) -> None:
        return None


def replace_entry(entry: ReviewEntry, candidate: str) -> ReviewEntry:
    quote = candidate[: 2 * limits.QUOTE_CHARS]
    return msgspec.structs.replace(
        entry,
        justification=(NAMES * 60)[: 3 * limits.JUSTIFICATION_CHARS],
        claims=(Claim(quote=quote, verdict="wrong"),) * (2 * limits.CLAIMS_PER_ENTRY),
    )


def decoded(message: Message) -> Message:
    return msgspec.json.decode(msgspec.json.encode(message), type=type(message))


@pytest.mark.parametrize(
    ("protocol", "seats"),
    [("nsed", 5), ("debate", 5), ("moa", 5), ("vote", limits.MAX_TEAM)],
)
async def test_every_message_of_a_deliberation_of_verbose_members_is_within_bounds(
    inmem: InMemoryServices, protocol: str, seats: int
) -> None:
    bus = Bus(inmem)
    for deps in inmem.runners.values():
        object.__setattr__(deps, "backend", Verbose(deps.backend))
    agents = list(inmem.runners)
    team = tuple(agents[i % len(agents)] for i in range(seats))
    policy = Policy(
        protocol=protocol,  # type: ignore[arg-type]
        team=team,
        max_rounds=3,
        state_token_budget=limits.STATE_TOKENS,
        feedback_token_budget=limits.FEEDBACK_TOKENS,
        allow_repeat_seats=True,
    )
    task = TaskSubmitted(
        task_id=f"verbose-{protocol}", prompt="Compute it.", answer_format="integer",
        reference_answer="42", policy=policy,
    )  # fmt: skip
    result = await bus.deliberate(task)
    assert result.status in ("completed", "degraded")
    for message in bus.published.values():
        assert decoded(message) == message, type(message).__name__
    shortened = [m for m in bus.published.values() if getattr(m, "notes", ())]
    assert shortened, "no member's output was cut"
    record = inmem.store.records[task.task_id]
    encoded = msgspec.json.encode(record)
    assert msgspec.json.decode(encoded, type=DeliberationRecord) == record
    assert len(encoded) <= limits.RECORD_BUDGET_BYTES
