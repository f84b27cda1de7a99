"""Seats that cannot be forged: an agent's proposal or review counts only when it arrived on
the subject its body names (``nsed.events.<task>.proposal.<agent>``, on which only that
agent's principal may publish) and the body's agent holds the seat it claims."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import subjects
from schemas.base import TOKEN_PATTERN
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewRequested, ReviewSubmitted
from services._runtime.errors import Rejected
from services._runtime.route import Delivery
from services.inmemory import InMemoryServices
from services.reviewer import handlers as reviewer
from services.reviewer.handlers import check_sender

from ..builders import arrived, proposal_for, review_for
from ..opened_task import opened, submitted

tokens = st.from_regex(TOKEN_PATTERN, fullmatch=True)


def on_subject_of(msg: ProposalSubmitted | ReviewSubmitted, agent_id: str) -> Delivery:
    """``msg`` as it arrives when published on ``agent_id``'s subject."""
    return arrived(msgspec.structs.replace(msg, agent_id=agent_id))


async def test_a_proposal_on_another_agents_subject_is_rejected_and_not_counted(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    mine = proposal_for(requests[0], "42")
    other = requests[1].agent_id
    with pytest.raises(Rejected, match=f"proposal.{other}'.*not on its own subject"):
        await reviewer.on_proposal(mine, on_subject_of(mine, other), inmem.reviewer)
    assert inmem.store.records["h-1"].current.proposals == ()
    # The seat's own proposal, on its own subject, still counts.
    await submitted(inmem, mine)
    [recorded] = inmem.store.records["h-1"].current.proposals
    assert recorded.agent_id == mine.agent_id


async def test_a_review_on_another_agents_subject_is_rejected_and_casts_no_ballot(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    reviews: list[ReviewRequested] = []
    for request in requests:
        out = await submitted(inmem, proposal_for(request, "42"))
        reviews += [m for m in out if isinstance(m, ReviewRequested)]
    review = review_for(reviews[0], "42")
    other = next(r.agent_id for r in reviews if r.agent_id != review.agent_id)
    with pytest.raises(Rejected, match="not on its own subject"):
        await reviewer.on_review(review, on_subject_of(review, other), inmem.reviewer)
    assert inmem.store.records["h-1"].current.ballots == ()


async def test_a_body_claiming_another_agents_seat_on_its_own_subject_is_rejected(
    inmem: InMemoryServices,
) -> None:
    requests = await opened(inmem)
    # bravo, on its own subject, claims seat 0 (alpha's)
    seat0, holder = requests[0], requests[1].agent_id
    forged = msgspec.structs.replace(proposal_for(seat0, "13"), agent_id=holder)
    with pytest.raises(Rejected, match=f"seat {seat0.seat} of round 1 is not held by"):
        await submitted(inmem, forged)
    assert inmem.store.records["h-1"].current.proposals == ()


@given(task_id=tokens, body=tokens, sender=tokens, kind=st.sampled_from(["proposal", "review"]))
def test_an_agent_output_passes_only_on_the_subject_its_body_names(
    task_id: str, body: str, sender: str, kind: str
) -> None:
    """The invariant: whatever the ids, the subject check passes exactly when the subject
    carries the body's agent (and task), and a proposal's subject ends in its agent."""
    common = {"task_id": task_id, "round": 1, "message_id": "m", "seat": 0, "agent_id": body}
    msg: ProposalSubmitted | ReviewSubmitted = (
        ProposalSubmitted(**common, proposal_id="p")  # type: ignore[arg-type]
        if kind == "proposal"
        else ReviewSubmitted(**common)  # type: ignore[arg-type]
    )
    assert subjects.subject_for(msg) == f"nsed.events.{task_id}.{kind}.{body}"
    delivery = on_subject_of(msg, sender)
    if sender == body:
        check_sender(msg, delivery)
    else:
        with pytest.raises(Rejected):
            check_sender(msg, delivery)
