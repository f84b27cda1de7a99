"""The semantic forget gate (§5.4): the state-size bound, the winner first, decay, merges,
forgetting, and per-seat feedback within its budget."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ballot import ClaimCheck, Critique
from schemas.propose import ConsensusState, ProposalSubmitted
from services.agent_runner.prompts import render_state
from services.core.fencing import fence
from services.core.tokens import estimate_tokens
from services.gate.forget_gate import (
    EXCERPT_TOKENS,
    FRAME_RESERVE,
    GateConfig,
    RoundOutcome,
    feedback,
    fold,
    item,
    proposal_text,
    rendered_tokens,
    support,
)

from .builders import proposal

texts = st.text(max_size=200) | st.text(min_size=1, max_size=3).map(lambda s: s * 3000)
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


def outcome_of(
    *proposals: ProposalSubmitted,
    support: dict[str, float],
    winner: str | None,
    critiques: Sequence[Critique] = (),
    claims: Sequence[ClaimCheck] = (),
    controversy: dict[str, float] | None = None,
) -> RoundOutcome:
    return RoundOutcome(
        round=proposals[0].round if proposals else 1,
        proposals=list(proposals),
        support=support,
        controversy=controversy or {},
        winner=winner,
        critiques=list(critiques),
        claims=list(claims),
        answer_format="integer",
    )


CONFIG = GateConfig(gamma=0.5, state_token_budget=2048, feedback_token_budget=256, floor=0.05)


def test_support_is_net_support_clipped_to_the_unit_interval() -> None:
    assert support({"a": -0.5, "b": 0.25, "c": 1.0, "d": float("nan")}) == {
        "a": 0.0,
        "b": 0.25,
        "c": 1.0,
        "d": 0.0,
    }
    assert support({}) == {}


def test_a_well_rated_proposal_keeps_its_support_however_it_ranked() -> None:
    # Min-max scaling gave the lower of two well-rated proposals support 0.
    assert support({"a": 0.9, "b": 0.8}) == {"a": 0.9, "b": 0.8}


def test_new_items_enter_with_one_minus_gamma_times_support() -> None:
    a, b, c = proposal(0, "42"), proposal(1, "41"), proposal(2, "40")
    support = {a.proposal_id: 1.0, b.proposal_id: 0.5, c.proposal_id: -0.2}
    config = GateConfig(gamma=0.2, state_token_budget=2048, feedback_token_budget=0)
    state = fold(
        ConsensusState(), outcome_of(a, b, c, support=support, winner=a.proposal_id), config
    )
    assert [(i.kind, i.source, i.retention) for i in state.items] == [
        ("winner", a.proposal_id, 0.8),
        ("alternative", b.proposal_id, 0.8 * 0.5),
    ]  # c: support 0, retention 0, below the floor


def test_carried_items_decay_by_gamma_and_the_old_winner_becomes_an_alternative() -> None:
    previous = ConsensusState(
        round=1,
        items=(
            item("winner", "old winner: 7", 0.8, answer="7", source="t:1:0", round_number=1),
            item(
                "critique", "On the answer 7: check the sign", 0.3, source="t:1:0", round_number=1
            ),
        ),
    )
    a, b = proposal(0, "42", round_number=2), proposal(1, "41", round_number=2)
    outcome = outcome_of(
        a, b, support={a.proposal_id: 1.0, b.proposal_id: 0.0}, winner=a.proposal_id
    )
    state = fold(
        previous, outcome, GateConfig(gamma=0.25, state_token_budget=2048, feedback_token_budget=0)
    )
    carried = {i.text: i for i in state.items if i.round == 1}
    assert carried["old winner: 7"].kind == "alternative"
    assert carried["old winner: 7"].retention == 0.25 * 0.8
    assert carried["On the answer 7: check the sign"].retention == 0.25 * 0.3
    assert state.items[0].source == a.proposal_id


def test_items_decayed_below_the_floor_are_forgotten() -> None:
    previous = ConsensusState(items=(item("alternative", "faint: 9", 0.08, answer="9"),))
    a = proposal(0, "42", round_number=2)
    state = fold(
        previous, outcome_of(a, support={a.proposal_id: 1.0}, winner=a.proposal_id), CONFIG
    )
    assert [i.text for i in state.items] == [proposal_text(a)]  # 0.5 × 0.08 < 0.05


def test_near_duplicate_answers_merge_and_sum_their_retention() -> None:
    a = proposal(0, "1,234", content="It is 1,234.\nFinal answer: \\boxed{1,234}")
    b = proposal(1, "1234.0", content="Surely 1234.\nFinal answer: \\boxed{1234}")
    c = proposal(2, "7")
    support = {a.proposal_id: 1.0, b.proposal_id: 0.5, c.proposal_id: 0.0}
    state = fold(
        ConsensusState(), outcome_of(a, b, c, support=support, winner=a.proposal_id), CONFIG
    )
    answers = [i for i in state.items if i.kind in ("winner", "alternative")]
    assert len(answers) == 1  # c had zero support: (1 − γ)·0 is below the floor
    assert answers[0].kind == "winner"
    assert answers[0].retention == 0.5 * 1.0 + 0.5 * 0.5


def test_a_merged_winner_keeps_the_winning_text() -> None:
    a = proposal(0, "42", content="The winner's careful argument.\nFinal answer: \\boxed{42}")
    b = proposal(1, "42", content="A sloppy argument.\nFinal answer: \\boxed{42}")
    support = {a.proposal_id: 0.9, b.proposal_id: 0.4}
    state = fold(ConsensusState(), outcome_of(a, b, support=support, winner=a.proposal_id), CONFIG)
    top = state.items[0]
    assert (top.kind, top.source, top.text) == ("winner", a.proposal_id, proposal_text(a))
    assert top.support == 0.9  # the better-rated of the merged


def test_a_winner_larger_than_the_budget_is_truncated_with_a_marker() -> None:
    a = proposal(0, "42", content="x" * 10_000)
    state = fold(
        ConsensusState(),
        outcome_of(a, support={a.proposal_id: 1.0}, winner=a.proposal_id),
        GateConfig(gamma=0.5, state_token_budget=256, feedback_token_budget=0),
    )
    assert state.items[0].kind == "winner"
    assert state.items[0].text.endswith("[…truncated]")
    assert state.tokens <= 256 - FRAME_RESERVE


def test_critiques_and_disputed_claims_of_a_proposal_enter_the_state() -> None:
    a, b = proposal(0, "42"), proposal(1, "41")
    outcome = outcome_of(
        a,
        b,
        support={a.proposal_id: 1.0, b.proposal_id: -0.4},
        controversy={b.proposal_id: 0.3},
        winner=a.proposal_id,
        critiques=[
            Critique(proposal_id=b.proposal_id, weight=-80, text="6×7 is not 41"),
            Critique(proposal_id=a.proposal_id, weight=60, text="fine"),  # praise: not kept
        ],
        claims=[
            ClaimCheck(proposal_id=b.proposal_id, quote="6×7 = 41", verdict="wrong"),
            ClaimCheck(proposal_id=a.proposal_id, quote="42", verdict="verified"),
        ],
    )
    state = fold(ConsensusState(), outcome, CONFIG)
    kinds = {i.kind: i for i in state.items}
    assert kinds["critique"].text == "On the answer 41: 6×7 is not 41"
    assert kinds["critique"].retention == 0.5 * 0.3  # support 0 boosted by controversy 0.3
    assert kinds["claim"].text == '"6×7 = 41" was judged wrong'
    assert "fine" not in [i.text for i in state.items]


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


def test_the_state_keeps_a_proposals_answer_and_a_short_excerpt_not_its_whole_text() -> None:
    long = "Step. " * 2000 + "\nFinal answer: \\boxed{42}"
    a = proposal(0, "42", content=long)
    outcome = outcome_of(a, support={a.proposal_id: 1.0}, winner=a.proposal_id)
    state = fold(ConsensusState(), outcome, CONFIG)
    [top] = state.items
    assert top.text.startswith("Answer: 42\n")
    assert "boxed{42}" in top.text  # the middle is cut, the end is kept
    assert top.tokens <= EXCERPT_TOKENS + 40
