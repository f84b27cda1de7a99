"""The sender check (``services/core/senders.py``) the reviewer runs on proposals and the
voter on reviews: an agent output passes only on the subject its body names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import subjects
from schemas.base import TOKEN_PATTERN
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from services._runtime.errors import Rejected
from services.core.senders import check_sender

tokens = st.from_regex(TOKEN_PATTERN, fullmatch=True)


@given(task_id=tokens, body=tokens, sender=tokens, kind=st.sampled_from(["proposal", "review"]))
def test_an_agent_output_passes_only_on_the_subject_its_body_names(
    task_id: str, body: str, sender: str, kind: str
) -> None:
    """The invariant: whatever the ids, the subject check passes exactly when the subject
    carries the body's agent (and task), and an output's subject ends in its agent."""
    common = {"task_id": task_id, "round": 1, "message_id": "m", "seat": 0, "agent_id": body}
    msg: ProposalSubmitted | ReviewSubmitted = (
        ProposalSubmitted(**common, proposal_id="p")  # type: ignore[arg-type]
        if kind == "proposal"
        else ReviewSubmitted(**common)  # type: ignore[arg-type]
    )
    assert subjects.subject_for(msg) == f"nsed.events.{task_id}.{kind}.{body}"
    subject = f"nsed.events.{task_id}.{kind}.{sender}"
    if sender == body:
        check_sender(msg, subject)
    else:
        with pytest.raises(Rejected):
            check_sender(msg, subject)
