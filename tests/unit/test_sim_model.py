"""The simulated agent of §6.2: deterministic, calibrated to p_g, correlated errors, and
output that the real answer extractor reads back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.base import AnswerFormat
from services.agent_runner.backends.sim_model import (
    SimJudgement,
    SimProposal,
    distractor_pool,
    hidden_truth,
    p_v_at,
    simulate_proposal,
    simulate_review,
)
from services.agent_runner.config import SimConfig
from services.core.answers import extract_answer, same_answer

FORMATS: tuple[AnswerFormat, ...] = ("text", "integer", "choice", "code")
PARAMS = SimConfig(p_g=0.55, p_v=0.8, sycophancy=0.2, fatigue=0.1, reasoning_tokens=40, seed=7)


def propose(
    params: SimConfig = PARAMS,
    *,
    agent: str = "a1",
    task_id: str = "t1",
    fmt: AnswerFormat = "integer",
    round_number: int = 1,
    truth: str | None = None,
    winner: str | None = None,
    own: str | None = None,
) -> SimProposal:
    return simulate_proposal(
        params,
        agent_id=agent,
        task_id=task_id,
        domain="math",
        answer_format=fmt,
        round_number=round_number,
        truth=truth if truth is not None else hidden_truth(task_id, fmt),
        winner_answer=winner,
        own_previous=own,
    )


def review(
    params: SimConfig,
    candidates: list[tuple[str, str]],
    *,
    own: str | None,
    truth: str,
    round_number: int = 1,
) -> tuple[list[SimJudgement], float]:
    return simulate_review(
        params,
        agent_id="a1",
        task_id="t1",
        domain="math",
        answer_format="integer",
        round_number=round_number,
        truth=truth,
        own_answer=own,
        candidates=candidates,
    )


def test_the_same_inputs_give_the_same_outputs() -> None:
    assert propose(round_number=2, winner="5", own="6") == propose(
        round_number=2, winner="5", own="6"
    )
    candidates = [("Candidate_A", propose().content), ("Candidate_B", propose(agent="a2").content)]
    assert review(PARAMS, candidates, own="5", truth="7") == review(
        PARAMS, candidates, own="5", truth="7"
    )


def test_the_seed_agent_and_task_change_the_draws() -> None:
    outputs = {propose(agent=f"a{i}").reasoning for i in range(5)}
    outputs |= {propose(SimConfig(seed=s, reasoning_tokens=40)).reasoning for s in range(5)}
    assert len(outputs) > 1


@pytest.mark.parametrize("p_g", [0.2, 0.55, 0.9])
def test_round_one_accuracy_is_close_to_p_g(p_g: float) -> None:
    params = SimConfig(p_g=p_g, seed=3, reasoning_tokens=0)
    tasks = [f"acc-{i}" for i in range(2000)]  # fixed list: the result is reproducible
    right = sum(
        same_answer(propose(params, task_id=t).answer, hidden_truth(t, "integer"), "integer")
        for t in tasks
    )
    # binomial sd at n = 2000 is at most 0.0112; 0.04 is over 3.5 sd
    assert abs(right / len(tasks) - p_g) < 0.04


@settings(max_examples=200)
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


def test_a_verifying_agent_adopts_a_right_winner_and_keeps_its_own_right_answer() -> None:
    always = SimConfig(p_g=0.0, p_v=1.0, fatigue=0.0, sycophancy=0.0, reasoning_tokens=0)
    assert propose(always, round_number=2, truth="42", winner="42", own="41").answer == "42"
    assert propose(always, round_number=2, truth="42", winner="41", own="42").answer == "42"
    # nobody was right and the agent never generates the truth: it regenerates a distractor
    again = propose(always, round_number=2, truth="42", winner="41", own="40").answer
    assert again in distractor_pool("t1", "42", "integer")


def test_an_agent_that_does_not_verify_follows_its_sycophancy() -> None:
    follower = SimConfig(p_v=0.0, sycophancy=1.0, reasoning_tokens=0)
    stubborn = SimConfig(p_v=0.0, sycophancy=0.0, reasoning_tokens=0)
    assert propose(follower, round_number=3, truth="42", winner="41", own="40").answer == "41"
    assert propose(stubborn, round_number=3, truth="42", winner="41", own="40").answer == "40"


def test_verification_precision_decays_with_fatigue() -> None:
    assert p_v_at(PARAMS, "math", 1) == pytest.approx(0.8)
    assert p_v_at(PARAMS, "math", 3) == pytest.approx(0.8 * 0.9**2)


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
        assert -100.0 <= judgement.weight <= 100.0


def test_a_perfect_verifier_supports_right_candidates_and_rejects_wrong_ones() -> None:
    verifier = SimConfig(p_v=1.0, fatigue=0.0, reasoning_tokens=0)
    right = propose(truth="42", own=None, params=SimConfig(p_g=1.0, reasoning_tokens=0)).content
    wrong = propose(truth="42", own=None, params=SimConfig(p_g=0.0, reasoning_tokens=0)).content
    judgements, _ = review(
        verifier, [("Candidate_A", right), ("Candidate_B", wrong)], own="7", truth="42"
    )
    a, b = judgements
    assert 60 <= a.weight <= 95
    assert a.claims[0].verdict == "verified"
    assert -95 <= b.weight <= -55
    assert b.claims[0].verdict == "wrong"


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.floats(0, 1), st.floats(0, 1))
def test_review_weights_stay_within_the_ballot_range(
    seed: int, r: int, p_v: float, s: float
) -> None:
    params = SimConfig(p_v=p_v, sycophancy=s, seed=seed, reasoning_tokens=0)
    candidates = [("Candidate_A", "Final answer: \\boxed{42}"), ("Candidate_B", "no answer")]
    judgements, latency = review(params, candidates, own="41", truth="42", round_number=r)
    assert all(-100.0 <= j.weight <= 100.0 for j in judgements)
    assert latency >= 0.0
