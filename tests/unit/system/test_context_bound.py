"""The context bound of §5.4, end to end through the real prompts: whatever the forget gate
keeps, a later round's proposal prompt is at most the round-1 prompt plus the state budget
plus the feedback budget. The context does not grow with the number of rounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.ballot import ClaimCheck, Critique
from schemas.propose import ConsensusState, ProposeRequested
from schemas.task import TaskView
from services.agent_runner.prompts import prompt_tokens, propose_messages
from services.core.fencing import fence
from services.core.tokens import PREVIOUS_ANSWER_TOKENS, truncate_to_tokens
from services.gate import forget_gate

from ..builders import proposal

TASK = TaskView(task_id="bound", prompt="How many apples are left?", answer_format="integer")
texts = st.text(min_size=0, max_size=6000)


def request(round_number: int, state: ConsensusState | None, feedback: tuple[str, ...],
            previous: str | None) -> ProposeRequested:  # fmt: skip
    return ProposeRequested(
        task_id="bound", round=round_number, message_id="m", seat=0, agent_id="a",
        task=TASK, state=state, feedback=feedback, previous_answer=previous, deadline=0.0,
    )  # fmt: skip


@given(
    contents=st.lists(texts, min_size=2, max_size=5),
    critiques=st.lists(st.tuples(st.integers(0, 4), texts), max_size=8),
    quotes=st.lists(st.tuples(st.integers(0, 4), st.text(max_size=400)), max_size=6),
    rounds=st.integers(1, 5),
    state_budget=st.integers(256, 4096),
    feedback_budget=st.integers(0, 1024),
    previous=st.none() | st.text(max_size=2000),
)
@settings(max_examples=150, deadline=None)
def test_a_later_rounds_prompt_never_exceeds_round_one_plus_both_budgets(
    contents: list[str],
    critiques: list[tuple[int, str]],
    quotes: list[tuple[int, str]],
    rounds: int,
    state_budget: int,
    feedback_budget: int,
    previous: str | None,
) -> None:
    config = forget_gate.GateConfig(
        gamma=0.5, state_token_budget=state_budget, feedback_token_budget=feedback_budget
    )
    state = ConsensusState()
    feedback: dict[int, tuple[str, ...]] = {}
    for r in range(1, rounds + 1):
        props = [proposal(i, str(i), round_number=r, content=c) for i, c in enumerate(contents)]
        ids = [p.proposal_id for p in props]
        crit = [Critique(proposal_id=ids[i % len(ids)], weight=-50, text=t) for i, t in critiques]
        claims = [
            ClaimCheck(proposal_id=ids[i % len(ids)], quote=q, verdict="wrong") for i, q in quotes
        ]
        outcome = forget_gate.RoundOutcome(
            round=r, proposals=props, support={p: k / len(ids) for k, p in enumerate(ids)},
            controversy=dict.fromkeys(ids, 0.3), winner=ids[-1], critiques=crit,
            claims=claims, answer_format="integer",
        )  # fmt: skip
        state = forget_gate.fold(state, outcome, config)
        feedback = forget_gate.feedback(crit, claims, dict.fromkeys(ids, 0), feedback_budget)
    first = prompt_tokens(propose_messages(request(1, None, (), None)))
    # What the broker sends: the seat's own previous answer, capped.
    quoted = None if previous is None else truncate_to_tokens(previous, PREVIOUS_ANSWER_TOKENS)
    later = prompt_tokens(propose_messages(request(rounds + 1, state, feedback.get(0, ()), quoted)))
    assert later <= first + state_budget + feedback_budget


def test_the_bound_holds_with_state_feedback_and_previous_answer_all_at_their_caps() -> None:
    # The frame the reserves pay for, at its largest: a state and a feedback that fill their
    # budgets to the last token, a previous answer at its cap, a long round number.
    state_budget, feedback_budget = 256, 64
    room = state_budget - forget_gate.FRAME_RESERVE
    overhead = len(fence("state_item", "", kind="winner") + "\n")
    winner = forget_gate.item("winner", "7" * (room * 4 - overhead), 1.0)
    state = forget_gate.pack([winner], state_budget, round_number=998)
    assert state.tokens == room
    line_room = feedback_budget - forget_gate.FEEDBACK_RESERVE
    text = "8" * (line_room * 4 - len(fence("critique", "") + "\n"))
    lines = forget_gate.feedback(
        [Critique(proposal_id="p", weight=-9, text=text)], [], {"p": 0}, feedback_budget
    )[0]
    previous = truncate_to_tokens("9" * 1000, PREVIOUS_ANSWER_TOKENS)
    first = prompt_tokens(propose_messages(request(1, None, (), None)))
    later = prompt_tokens(propose_messages(request(999, state, lines, previous)))
    assert later <= first + state_budget + feedback_budget
