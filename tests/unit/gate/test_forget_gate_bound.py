"""The semantic forget gate's invariants (§5.4), over arbitrary rounds: the state never
exceeds its token budget, counts its tokens honestly, and puts the winner first, carrying
the winning proposal."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ballot import ClaimCheck, Critique
from schemas.limits import STATE_ITEMS, STATE_TOKENS
from schemas.propose import ConsensusState
from services.agent_runner.prompts import render_state
from services.core.tokens import estimate_tokens
from services.gate.forget_gate import (
    FRAME_RESERVE,
    GateConfig,
    RoundOutcome,
    fold,
    proposal_text,
    rendered_tokens,
)

from ..budget_texts import texts
from ..builders import proposal

answers = st.none() | st.sampled_from(["42", "41", "1,234", "1234", "7"]) | st.text(max_size=8)
unit = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def outcomes(draw: st.DrawFn, round_number: int = 1) -> RoundOutcome:
    n = draw(st.integers(min_value=0, max_value=5))
    props = [
        proposal(seat, draw(answers), content=draw(texts), round_number=round_number)
        for seat in range(n)
    ]
    pids = [p.proposal_id for p in props]
    pid = st.sampled_from(pids) if pids else st.just("ghost")
    critiques = draw(
        st.lists(
            st.builds(Critique, proposal_id=pid, weight=st.floats(-100, 100), text=texts),
            max_size=6,
        )
    )
    claims = draw(
        st.lists(
            st.builds(
                ClaimCheck,
                proposal_id=pid,
                quote=texts,
                verdict=st.sampled_from(["verified", "contested", "unverified", "wrong"]),
            ),
            max_size=4,
        )
    )
    return RoundOutcome(
        round=round_number,
        proposals=props,
        support={p: draw(st.floats(-1, 1)) for p in pids},
        controversy={p: draw(unit) for p in pids},
        winner=draw(st.sampled_from(pids)) if pids and draw(st.booleans()) else None,
        critiques=critiques,
        claims=claims,
        answer_format=draw(st.sampled_from(["text", "integer", "choice", "code"])),
    )


configs = st.builds(
    GateConfig,
    gamma=unit,
    state_token_budget=st.integers(min_value=256, max_value=3000),
    feedback_token_budget=st.integers(min_value=0, max_value=600),
)


def assert_bounded(state: ConsensusState, budget: int) -> None:
    assert state.tokens == sum(i.tokens for i in state.items)
    assert state.tokens <= budget - FRAME_RESERVE
    for i in state.items:
        assert i.tokens == rendered_tokens(i.kind, i.text)  # counts are honest
    assert estimate_tokens(render_state(state)) <= budget  # as shown in a prompt


@settings(max_examples=200, deadline=None)
@given(outcomes(), outcomes(round_number=2), outcomes(round_number=3), configs)
def test_the_state_never_exceeds_its_token_budget_over_rounds(
    first: RoundOutcome, second: RoundOutcome, third: RoundOutcome, config: GateConfig
) -> None:
    state = ConsensusState()
    for outcome in (first, second, third):
        state = fold(state, outcome, config)
        assert_bounded(state, config.state_token_budget)
        assert state.round == outcome.round
        if outcome.winner is not None:
            top = state.items[0]
            assert top.kind == "winner"
            assert top.source == outcome.winner
        assert sum(1 for i in state.items if i.kind == "winner") <= 1


@settings(max_examples=200, deadline=None)
@given(outcomes(), configs)
def test_the_winner_item_carries_the_winning_proposal(
    outcome: RoundOutcome, config: GateConfig
) -> None:
    state = fold(ConsensusState(), outcome, config)
    winner = state.winner()
    if outcome.winner is None:
        assert winner is None
        return
    won = next(p for p in outcome.proposals if p.proposal_id == outcome.winner)
    assert winner is not None
    assert winner.answer == won.extracted_answer
    assert proposal_text(won).startswith(winner.text.removesuffix(" […truncated]").rstrip())


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=3 * STATE_ITEMS),
    budget=st.integers(min_value=256, max_value=STATE_TOKENS),
    gamma=st.floats(min_value=0.0, max_value=0.9),
)
def test_the_state_never_holds_more_items_than_a_message_may_carry(
    count: int, budget: int, gamma: float
) -> None:
    """Many short critiques of a well-supported proposal all clear the floor and the budget:
    the state still keeps at most ``STATE_ITEMS`` of them (the bound of ``ConsensusState``)."""
    target = proposal(0, "42", content="It is 42.")
    outcome = RoundOutcome(
        round=1,
        proposals=[target],
        support={target.proposal_id: 1.0},
        controversy={target.proposal_id: 0.0},
        winner=target.proposal_id,
        critiques=[
            Critique(proposal_id=target.proposal_id, weight=-50, text=f"flaw {i}")
            for i in range(count)
        ],
        claims=[],
        answer_format="integer",
    )
    config = GateConfig(gamma=gamma, state_token_budget=budget, feedback_token_budget=0)
    state = fold(ConsensusState(), outcome, config)
    assert len(state.items) <= STATE_ITEMS
    assert_bounded(state, budget)
