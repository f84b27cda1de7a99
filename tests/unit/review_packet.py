"""A two-candidate packet as a reviewer shows it, and reviews of it, for the tests of ballot
validation: ``entry`` reads as a genuine review (its own justification, a quote of its
candidate), ``validate`` checks a review against the packet, ``entries`` draws arbitrary
review entries."""

from __future__ import annotations

from hypothesis import strategies as st

from schemas.ballot import Ballot
from schemas.propose import CallStatus
from schemas.review import Claim, ReviewEntry, ReviewSubmitted
from services.reviewer.validation import validate_ballot

PACKET = {"Candidate_A": "p1", "Candidate_B": "p2"}
SHOWN = {
    "p1": "Step one: the “product” is 42.\n\n   Final    answer: \\boxed{42}",
    "p2": "I think it's 41, since 6×7 = 41.\nFinal answer: \\boxed{41}",
}


def review(
    *entries: ReviewEntry, status: CallStatus = "ok", error: str | None = None
) -> ReviewSubmitted:
    return ReviewSubmitted(
        task_id="t1",
        round=1,
        message_id="t1:1:review:0",
        seat=0,
        agent_id="agent0",
        entries=entries,
        status=status,
        error=error,
    )


# A line each candidate really says: the claim a genuine review of it can quote.
GROUNDED = {"Candidate_A": "the “product” is 42.", "Candidate_B": "6×7 = 41"}


def entry(label: str, weight: float, *quotes: str, why: str | None = None) -> ReviewEntry:
    """A review entry that reads as a review: its own justification, and (unless ``quotes``
    are given) a quote of its candidate."""
    return ReviewEntry(
        label=label,
        weight=weight,
        justification=f"{label} is judged on its own steps" if why is None else why,
        claims=tuple(
            Claim(quote=q, verdict="verified")
            for q in (quotes or (GROUNDED.get(label, "not in any candidate"),))
        ),
    )


def validate(msg: ReviewSubmitted) -> Ballot:
    return validate_ballot(msg, PACKET, SHOWN, message_id="t1:1:ballot:0")


labels = st.sampled_from([*PACKET, "Candidate_C", "", "candidate_a"]) | st.text(max_size=12)
weights = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308, -0.0])
claims = st.builds(
    Claim,
    quote=st.text(max_size=40) | st.sampled_from(["42", "“product”", "Final answer:"]),
    verdict=st.sampled_from(["verified", "contested", "unverified", "wrong"]),
)
entries = st.builds(
    ReviewEntry,
    label=labels,
    weight=weights,
    justification=st.text(max_size=40),
    claims=st.lists(claims, max_size=3).map(tuple),
)
