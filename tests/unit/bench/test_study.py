"""The quality study's arithmetic: equal-cost sample counts, seats in turn, paired
differences, and the map's verdicts."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.base import Usage
from schemas.gate import DeliberationConcluded
from schemas.limits import MAX_TEAM
from services.bench import qmap, study


def result(task_id: str, correct: bool, tokens: int = 100, calls: int = 1) -> DeliberationConcluded:
    return DeliberationConcluded(
        task_id=task_id, round=1, message_id=f"{task_id}:result", status="completed",
        stop_reason="max_rounds", correct=correct, rounds=1,
        total=Usage(input_tokens=tokens, output_tokens=0, calls=calls),
    )  # fmt: skip


def batch(name: str, correct: list[bool], tokens: int = 100) -> study.Batch:
    return study.Batch(
        name, {f"p{i}": result(f"{name}-p{i}", c, tokens) for i, c in enumerate(correct)}
    )


@given(st.floats(min_value=0, max_value=1e7), st.floats(min_value=1, max_value=1e5),
       st.integers(min_value=1, max_value=9))  # fmt: skip
def test_equal_token_samples_buy_the_budget_to_within_half_a_call(
    budget: float, per_call: float, floor: int
) -> None:
    n = study.equal_token_samples(budget, per_call, floor)
    assert floor <= n <= MAX_TEAM  # a vote of more seats would be refused
    if floor < n < MAX_TEAM:
        assert abs(n * per_call - budget) <= per_call / 2 + 1e-6


@given(st.lists(st.sampled_from("abcde"), min_size=1, max_size=5, unique=True),
       st.integers(min_value=1, max_value=40))  # fmt: skip
def test_round_robin_samples_the_team_as_evenly_as_it_can(team: list[str], seats: int) -> None:
    chosen = study.round_robin(team, seats)
    assert len(chosen) == seats
    counts = [chosen.count(agent) for agent in team]
    assert max(counts) - min(counts) <= 1


def test_a_batch_reports_accuracy_cost_and_its_standard_error() -> None:
    # as the report prints it
    row = msgspec.to_builtins(
        batch("majority", [True, True, False, True], tokens=300).row(samples=3)
    )
    assert row["accuracy"] == 0.75
    assert row["stderr"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4), abs=1e-4)
    assert (row["tokens_per_task"], row["calls_per_task"], row["samples"]) == (300.0, 1.0, 3)


def test_the_paired_difference_is_taken_task_by_task() -> None:
    a = batch("a", [True, True, False, False])
    b = batch("b", [True, False, False, True])
    delta, stderr = qmap.paired_delta(a, b)
    assert delta == 0.0
    assert stderr == pytest.approx(math.sqrt((2 / 3) / 4))


@pytest.mark.parametrize(
    ("delta", "stderr", "verdict"),
    [(0.1, 0.03, "nsed better"), (-0.1, 0.03, "nsed worse"), (0.05, 0.03, "even")],
)
def test_the_map_calls_a_difference_only_beyond_two_standard_errors(
    delta: float, stderr: float, verdict: str
) -> None:
    assert qmap.verdict(delta, stderr) == verdict


def test_the_map_table_has_a_row_per_p_g_and_a_column_per_p_v() -> None:
    cells = [{"p_g": g, "p_v": v, "delta": 0.1 * v, "stderr": 0.01,
              "verdict": qmap.verdict(0.1 * v, 0.01)}
             for g in (0.3, 0.6) for v in (0.5, 0.9)]  # fmt: skip
    lines = qmap.table(cells).splitlines()
    assert lines[0] == "| p_g \\ p_v | 0.5 | 0.9 |"
    assert len(lines) == 4
    assert "**+0.090**" in lines[2]
