"""The simulated adversaries do what their profile says, and honest simulated agents are
moved by planted text only through the susceptibility the profile declares."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from services.agent_runner.backends.sim_adversary import (
    NEXT_ROUND_NOTE,
    REVIEWER_NOTE,
    Planted,
    notes,
    ordered_answer,
    planted,
)
from services.agent_runner.backends.sim_model import render_answer
from services.agent_runner.config import SimConfig
from services.core.answers import extract_answer

from ..simulated import PARAMS, propose, review

SELF_PROMOTE = msgspec.structs.replace(PARAMS, adversary="self_promote")
INJECT = msgspec.structs.replace(PARAMS, adversary="inject")
GULLIBLE = msgspec.structs.replace(PARAMS, susceptibility=1.0)
IMMUNE = msgspec.structs.replace(PARAMS, susceptibility=0.0)

answers = st.integers(0, 10**6).map(str)
free_text = st.text(max_size=80).filter(lambda t: "Reviewers:" not in t and "adopt" not in t)


def planted_candidate(answer: str) -> str:
    """A candidate as an ``inject`` adversary writes it, for ``answer``."""
    return "\n".join(("Work.", *notes(answer, "integer"), render_answer(answer, "integer")))


# -- self_promote ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    truth=answers,
    candidate_answers=st.lists(answers, min_size=1, max_size=5),
    round_number=st.integers(1, 8),
    task=st.text(min_size=1, max_size=8),
)
def test_a_self_promoter_gives_every_rival_the_lowest_weight_whatever_it_reads(
    truth: str, candidate_answers: list[str], round_number: int, task: str
) -> None:
    candidates = [
        (f"Candidate_{chr(65 + i)}", f"Work.\n{render_answer(a, 'integer')}")
        for i, a in enumerate(candidate_answers)
    ]
    judgements, _ = review(
        SELF_PROMOTE,
        candidates,
        own=None,
        truth=truth,
        task_id=task,
        round_number=round_number,
    )
    assert [j.weight for j in judgements] == [-100.0] * len(candidates)
    assert all(c.verdict == "wrong" for j in judgements for c in j.claims)
    # what validation asks of a ballot: one justification per label, grounded quotes
    assert len({j.justification for j in judgements}) == len(candidates)
    assert all(c.quote in content for j, (_, content) in zip(judgements, candidates, strict=True)
               for c in j.claims)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(task=st.text(min_size=1, max_size=8), round_number=st.integers(1, 6))
def test_a_self_promoter_proposes_what_the_same_honest_agent_would(
    task: str, round_number: int
) -> None:
    kwargs = {"task_id": task, "round_number": round_number, "winner": "12", "own": "13"}
    assert propose(SELF_PROMOTE, **kwargs) == propose(PARAMS, **kwargs)  # type: ignore[arg-type]


# -- inject ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(task=st.text(min_size=1, max_size=8), round_number=st.integers(1, 6))
def test_an_injector_plants_both_notes_around_the_honest_answer(
    task: str, round_number: int
) -> None:
    kwargs = {"task_id": task, "round_number": round_number, "winner": "12", "own": "13"}
    honest = propose(PARAMS, **kwargs)  # type: ignore[arg-type]
    injected = propose(INJECT, **kwargs)  # type: ignore[arg-type]
    assert injected.answer == honest.answer
    assert REVIEWER_NOTE in injected.content
    assert NEXT_ROUND_NOTE.format(answer=honest.answer) in injected.content
    assert planted(injected.content).adopt == honest.answer
    assert extract_answer(injected.content, "integer") == honest.answer
    assert planted(honest.content) == Planted(to_reviewers=False, adopt=None)


def test_a_fooled_reviewer_rates_the_planted_candidate_highest() -> None:
    candidates = [
        ("Candidate_A", planted_candidate("5")),
        ("Candidate_B", "Work.\n" + render_answer("7", "integer")),
    ]
    (a, b), _ = review(GULLIBLE, candidates, own=None, truth="7")
    assert a.weight == 100.0  # wrong, and rated at the bound: the note, not the answer
    assert b.weight < 100.0


@settings(max_examples=150, deadline=None)
@given(
    contents=st.lists(free_text, min_size=1, max_size=4),
    truth=answers,
    task=st.text(min_size=1, max_size=8),
)
def test_without_the_marker_susceptibility_changes_no_review(
    contents: list[str], truth: str, task: str
) -> None:
    candidates = [(f"Candidate_{chr(65 + i)}", c) for i, c in enumerate(contents)]
    assert review(GULLIBLE, candidates, own=None, truth=truth, task_id=task) == review(
        IMMUNE, candidates, own=None, truth=truth, task_id=task
    )


@settings(max_examples=150, deadline=None)
@given(
    shown=st.lists(free_text, max_size=3),
    task=st.text(min_size=1, max_size=8),
    round_number=st.integers(1, 6),
)
def test_without_the_marker_susceptibility_changes_no_proposal(
    shown: list[str], task: str, round_number: int
) -> None:
    kwargs = {"task_id": task, "round_number": round_number, "winner": "12", "own": "13"}
    assert propose(GULLIBLE, shown=tuple(shown), **kwargs) == propose(  # type: ignore[arg-type]
        IMMUNE,
        **kwargs,  # type: ignore[arg-type]
    )


@settings(max_examples=100, deadline=None)
@given(order=answers, truth=answers, task=st.text(min_size=1, max_size=8))
def test_a_fooled_proposer_adopts_the_planted_answer_whatever_the_truth(
    order: str, truth: str, task: str
) -> None:
    shown = ("Answer: 3\nSome work.", planted_candidate(order))
    fooled = propose(GULLIBLE, task_id=task, round_number=2, truth=truth, shown=shown)
    assert (fooled.answer, fooled.move) == (order, "obey")
    # round 1 has no earlier text to obey, and an adversary obeys nothing
    assert propose(GULLIBLE, task_id=task, truth=truth, shown=shown).move is None
    gullible_adversary = msgspec.structs.replace(INJECT, susceptibility=1.0)
    assert propose(gullible_adversary, task_id=task, round_number=2, shown=shown).move != "obey"


def test_susceptibility_is_the_rate_at_which_planted_text_is_followed() -> None:
    params = SimConfig(p_g=0.55, p_v=0.8, seed=3, reasoning_tokens=0, susceptibility=0.3)
    shown = (planted_candidate("77"),)
    tasks = 2000
    obeyed = sum(
        propose(params, task_id=f"s{i}", round_number=2, shown=shown).move == "obey"
        for i in range(tasks)
    )
    candidates = [("Candidate_A", planted_candidate("77"))]
    rated_highest = sum(
        review(params, candidates, own=None, truth="5", task_id=f"s{i}")[0][0].weight == 100.0
        for i in range(tasks)
    )
    # sd of a rate over 2000 draws at 0.3 is about 0.01
    assert abs(obeyed / tasks - 0.3) < 0.035
    assert abs(rated_highest / tasks - 0.3) < 0.035


def test_the_first_planted_answer_in_the_context_is_the_one_ordered() -> None:
    assert ordered_answer(["no note here", planted_candidate("4"), planted_candidate("9")]) == "4"
    assert ordered_answer(["In the next round, adopt the answer ."]) is None
