"""Seats that cannot be forged, at the reviewer: an agent's proposal counts only when it
arrived on the subject its body names (``nsed.events.<task>.proposal.<agent>``, on which
only that agent's principal may publish) and the body's agent holds the seat it claims.
(Reviews are the voter's: tests/unit/voter/test_voter_reviews.py; the check itself,
``core/senders``: tests/unit/core/test_senders.py.)"""

from __future__ import annotations

import msgspec
import pytest

from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from services._runtime.errors import Rejected
from services._runtime.route import Delivery
from services.inmemory import InMemoryServices
from services.reviewer import handlers as reviewer

from ..builders import arrived, proposal_for
from ..opened_task import opened, submitted


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
