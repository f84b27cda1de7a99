"""The simulated agent of §6.2: deterministic and seeded, proposers whose moves cannot see
the truth, and output that the real answer extractor reads back. Its calibration (p_g,
p_v, shared difficulty, fatigue) is tested in test_sim_calibration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.base import AnswerFormat
from schemas.propose import ConsensusState, ProposeRequested, StateItem
from schemas.task import TaskView
from services.agent_runner.backends.sim import SimBackend, leading_answer, problem_key
from services.agent_runner.backends.sim_model import distractor_pool, hidden_truth
from services.agent_runner.config import AgentProfile, SimConfig
from services.core.answers import extract_answer, same_answer

from ..simulated import PARAMS, propose, review

FORMATS: tuple[AnswerFormat, ...] = ("text", "integer", "choice", "code")


# -- determinism and seeding ----------------------------------------------------------


def test_the_same_inputs_give_the_same_outputs() -> None:
    assert propose(round_number=2, winner="5", own="6") == propose(
        round_number=2, winner="5", own="6"
    )
    candidates = [("Candidate_A", propose().content), ("Candidate_B", propose(agent="a2").content)]
    assert review(PARAMS, candidates, own="5", truth="7") == review(
        PARAMS, candidates, own="5", truth="7"
    )


def test_the_seed_agent_task_and_seat_change_the_draws() -> None:
    outputs = {propose(agent=f"a{i}").reasoning for i in range(5)}
    outputs |= {propose(SimConfig(seed=s, reasoning_tokens=40)).reasoning for s in range(5)}
    assert len(outputs) > 1
    # the same agent in two seats is two independent samples (Self-MoA)
    params = SimConfig(p_g=0.5, reasoning_tokens=0, seed=5)
    seats = [[propose(params, task_id=f"s{i}", seat=k).answer for i in range(200)] for k in (0, 1)]
    assert seats[0] != seats[1]


# -- (3) the truth cannot move a proposer ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    task=st.text(min_size=1, max_size=8),
    round_number=st.integers(2, 9),
    winner=st.sampled_from(["41", "43", None]),
    own=st.sampled_from(["41", "44", None]),
    support=st.floats(0.0, 1.0),
    p_g=st.floats(0.0, 1.0),
    sycophancy=st.floats(0.0, 1.0),
)
def test_swapping_which_answer_is_true_never_changes_a_proposers_move(
    seed: int,
    task: str,
    round_number: int,
    winner: str | None,
    own: str | None,
    support: float,
    p_g: float,
    sycophancy: float,
) -> None:
    params = SimConfig(p_g=p_g, sycophancy=sycophancy, seed=seed, reasoning_tokens=0)
    outcomes = [
        propose(
            params,
            task_id=task,
            round_number=round_number,
            truth=truth,
            winner=winner,
            own=own,
            support=support,
        )
        for truth in ("41", "44", "43", "99")  # the winner's, the own, another, none of them
    ]
    moves = {p.move for p in outcomes}
    assert len(moves) == 1
    [move] = moves
    if move == "adopt":
        assert all(p.answer == winner for p in outcomes)
    elif move == "keep":
        assert all(p.answer == own for p in outcomes)


def test_only_a_fresh_generation_reads_the_truth() -> None:
    # The counterpart of the property above, so it can fail: regenerations follow the truth.
    params = SimConfig(p_g=0.9, sycophancy=0.0, reasoning_tokens=0, seed=4)
    fresh = [
        propose(params, task_id=f"g{i}", round_number=3, truth=truth, own="7")
        for i in range(200)
        for truth in ("41", "44")
    ]
    regenerated = [p for p in fresh if p.move == "regenerate"]
    assert regenerated
    assert any(p.answer == "41" for p in regenerated)
    assert any(p.answer == "44" for p in regenerated)


def test_sycophancy_and_support_pull_towards_the_winner() -> None:
    def adopted(params: SimConfig, support: float) -> float:
        moves = [
            propose(
                params, task_id=f"m{i}", round_number=2, winner="41", own="40", support=support
            ).move
            for i in range(1000)
        ]
        return moves.count("adopt") / len(moves)

    stubborn = SimConfig(p_g=0.5, sycophancy=0.0, reasoning_tokens=0, seed=6)
    follower = SimConfig(p_g=0.5, sycophancy=1.0, reasoning_tokens=0, seed=6)
    assert adopted(stubborn, 0.0) == 0.0
    assert adopted(follower, 0.0) == 1.0
    assert adopted(stubborn, 1.0) > 0.3  # support pulls an agent that doubts itself
    assert propose(follower, round_number=3, winner="41", own="40").answer == "41"


async def test_the_backend_hands_the_winners_support_to_the_proposer() -> None:
    # An agent that doubts itself and has no sycophancy moves only through support.
    profile = AgentProfile(
        id="doubter",
        model="m",
        family="f",
        sim=SimConfig(p_g=0.05, sycophancy=0.0, reasoning_tokens=0),
    )

    async def truth(_: str) -> str:
        return "42"

    async def no_sleep(_: float) -> None:
        return None

    backend = SimBackend(profile, truth, sleep=no_sleep)

    async def adopted(support: float) -> int:
        count = 0
        for i in range(100):
            winner = StateItem(
                kind="winner", text="w", retention=1.0, tokens=1, answer="7", support=support
            )
            request = ProposeRequested(
                task_id=f"wire-{i}",
                round=2,
                message_id="m",
                seat=0,
                agent_id="doubter",
                task=TaskView(task_id=f"wire-{i}", prompt=f"p{i}", answer_format="integer"),
                state=ConsensusState(round=1, items=(winner,), tokens=1),
                previous_answer="40",
                deadline=0.0,
            )
            draft = await backend.propose(request)
            count += extract_answer(draft.content, "integer") == "7"  # never a distractor of 42
        return count

    assert await adopted(0.0) == 0
    assert await adopted(1.0) > 60  # adopt with 1 − c, and c is small for most tasks


def test_without_a_winner_or_an_own_answer_a_later_round_solves_afresh() -> None:
    p = propose(round_number=4)
    assert p.move is None
    assert p.content.startswith("I solved the problem from scratch.")


# -- output ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)  # the first math comparison loads its parser
@given(st.text(max_size=20), st.text(min_size=1, max_size=12), st.sampled_from(FORMATS))
def test_distractors_are_never_the_truth(truth: str, task_id: str, fmt: AnswerFormat) -> None:
    pool = distractor_pool(task_id, truth, fmt)
    assert 1 <= len(pool) <= 5
    assert len(set(pool)) == len(pool)
    for wrong in pool:
        assert not same_answer(wrong, truth, fmt)


@pytest.mark.parametrize("truth", ["inf", "Infinity", "-inf", "1e400", "nan"])
def test_a_reference_that_is_not_a_finite_number_still_gets_distractors(truth: str) -> None:
    pool = distractor_pool("t1", truth, "text")
    assert pool
    assert truth not in pool


def test_every_agent_draws_its_wrong_answers_from_the_same_pool() -> None:
    params = SimConfig(p_g=0.0, reasoning_tokens=0)  # always wrong
    for task_id in ("t1", "t2", "t3"):
        pool = distractor_pool(task_id, hidden_truth(task_id, "integer"), "integer")
        answers = {propose(params, agent=f"agent{i}", task_id=task_id).answer for i in range(40)}
        assert answers <= set(pool)
        assert pool[0] in answers  # the most likely distractor is shared


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_extracted_answer_of_a_proposal_is_the_chosen_answer(fmt: AnswerFormat) -> None:
    for i in range(60):
        p = propose(SimConfig(p_g=0.5, reasoning_tokens=10), task_id=f"x{i}", fmt=fmt)
        assert extract_answer(p.content, fmt) == p.answer


def test_claim_quotes_are_verbatim_substrings_of_the_candidate() -> None:
    candidates = [
        (f"Candidate_{c}", propose(agent=f"a{c}", task_id="t1", truth="42").content)
        for c in "ABCDE"
    ]
    judgements, _ = review(PARAMS, candidates, own="42", truth="42")
    assert [j.label for j in judgements] == [c[0] for c in candidates]
    for judgement, (_, content) in zip(judgements, candidates, strict=True):
        assert judgement.claims
        for claim in judgement.claims:
            assert claim.quote
            assert claim.quote in content


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.floats(0, 1), st.floats(0, 3))
def test_review_weights_stay_within_the_ballot_range(
    seed: int, r: int, p_v: float, bias: float
) -> None:
    params = SimConfig(p_v=p_v, self_bias=bias, seed=seed, reasoning_tokens=0)
    candidates = [("Candidate_A", "Final answer: \\boxed{42}"), ("Candidate_B", "no answer")]
    judgements, latency = review(params, candidates, own="42", truth="42", round_number=r)
    assert all(-100.0 <= j.weight <= 100.0 for j in judgements)
    assert latency >= 0.0


def test_a_proposer_reading_peers_leans_towards_their_most_common_answer() -> None:
    def peer(answer: str) -> StateItem:
        return StateItem(kind="peer", text=f"so {answer}", retention=1.0, tokens=1, answer=answer)

    def request(*items: StateItem) -> ProposeRequested:
        return ProposeRequested(
            task_id="t", round=2, message_id="m", seat=0, agent_id="a", protocol="debate",
            task=TaskView(task_id="t", prompt="p", answer_format="integer"),
            state=ConsensusState(round=1, items=items, tokens=1), deadline=0.0,
        )  # fmt: skip

    assert leading_answer(request(peer("41"), peer("42"), peer("42.0"))) == ("42", 2 / 3)
    assert leading_answer(request()) == (None, 0.0)
    winner = StateItem(kind="winner", text="w", retention=1.0, tokens=1, answer="7", support=0.9)
    assert leading_answer(request(winner, peer("41"))) == ("7", 0.9)


def test_the_same_question_as_two_tasks_meets_the_same_draws() -> None:
    first = TaskView(task_id="vote-0001", prompt="What is 6*7?", answer_format="integer")
    second = TaskView(task_id="nsed-0001", prompt="What is 6*7?", answer_format="integer")
    other = TaskView(task_id="nsed-0002", prompt="What is 6*8?", answer_format="integer")
    assert problem_key(first) == problem_key(second) != problem_key(other)
