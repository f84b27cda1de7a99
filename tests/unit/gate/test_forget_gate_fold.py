"""The semantic forget gate's fold (§5.4), worked by hand: support, retention on entry,
decay, the old winner becoming an alternative, forgetting below the floor, merges of near
duplicates, truncation, critiques and disputed claims, and excerpts of long proposals."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.ballot import ClaimCheck, Critique
from schemas.propose import ConsensusState, ProposalSubmitted
from services.gate.forget_gate import (
    EXCERPT_TOKENS,
    FRAME_RESERVE,
    GateConfig,
    RoundOutcome,
    fold,
    item,
    proposal_text,
    support,
)

from ..builders import proposal


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


def test_the_state_keeps_a_proposals_answer_and_a_short_excerpt_not_its_whole_text() -> None:
    long = "Step. " * 2000 + "\nFinal answer: \\boxed{42}"
    a = proposal(0, "42", content=long)
    outcome = outcome_of(a, support={a.proposal_id: 1.0}, winner=a.proposal_id)
    state = fold(ConsensusState(), outcome, CONFIG)
    [top] = state.items
    assert top.text.startswith("Answer: 42\n")
    assert "boxed{42}" in top.text  # the middle is cut, the end is kept
    assert top.tokens <= EXCERPT_TOKENS + 40
