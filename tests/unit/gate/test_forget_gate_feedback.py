"""The forget gate's per-seat feedback (§5.4): only the criticised seat's critiques and
disputed claims, harshest first, within the feedback budget."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ballot import ClaimCheck, Critique
from services.core.fencing import fence
from services.core.tokens import estimate_tokens
from services.gate.forget_gate import feedback

from ..budget_texts import texts

critique_pids = st.sampled_from(["p0", "p1", "p2", "ghost"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.builds(Critique, proposal_id=critique_pids, weight=st.floats(-100, 100), text=texts),
        max_size=8,
    ),
    st.lists(
        st.builds(
            ClaimCheck,
            proposal_id=critique_pids,
            quote=texts,
            verdict=st.sampled_from(["verified", "contested", "unverified", "wrong"]),
        ),
        max_size=4,
    ),
    st.integers(min_value=0, max_value=600),
)
def test_feedback_goes_only_to_the_criticised_seat_within_its_budget(
    critiques: list[Critique], claims: list[ClaimCheck], budget: int
) -> None:
    seat_of = {"p0": 0, "p1": 1, "p2": 2}
    out = feedback(critiques, claims, seat_of, budget)
    for seat, lines in out.items():
        shown = "\n".join(fence("critique", line) for line in lines)  # as a prompt shows them
        assert estimate_tokens(shown) <= budget
        assert len(set(lines)) == len(lines)
        mine = {c.text for c in critiques if seat_of.get(c.proposal_id) == seat and c.weight < 0}
        mine |= {
            f'"{c.quote}" was judged {c.verdict}'
            for c in claims
            if seat_of.get(c.proposal_id) == seat and c.verdict in ("contested", "wrong")
        }
        assert set(lines) <= mine


def test_feedback_puts_the_harshest_critique_first() -> None:
    critiques = [
        Critique(proposal_id="p0", weight=-20, text="minor slip"),
        Critique(proposal_id="p0", weight=-90, text="wrong result"),
        Critique(proposal_id="p1", weight=-50, text="for seat one"),
        Critique(proposal_id="p0", weight=40, text="praise"),
    ]
    out = feedback(critiques, [], {"p0": 0, "p1": 1}, budget=512)
    assert out == {0: ("wrong result", "minor slip"), 1: ("for seat one",)}
