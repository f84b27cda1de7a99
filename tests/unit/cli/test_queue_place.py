"""Where a task stands on NSED_TASKS before the broker starts it (services/cli/queue.py),
and how ``nsed submit`` says so."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.cli.progress import Progress
from services.cli.queue import ahead


@given(st.integers(1, 10_000), st.integers(0, 10_000))
def test_the_tasks_ahead_are_those_between_the_last_taken_and_this_one(
    seq: int, taken: int
) -> None:
    place = ahead(seq, taken)
    if seq <= taken:
        assert place is None  # the broker has it
    else:
        assert place == len(range(taken + 1, seq))


def test_a_queued_task_says_how_many_are_ahead_then_falls_silent_once_started(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = Progress("t", enabled=True)
    start = progress.started
    progress.queued(12, start + 2)
    progress.queued(11, start + 4)  # within NOTE_EVERY_S: one line is enough
    progress.queued(None, start + 2 + Progress.NOTE_EVERY_S)
    progress.counts.agents = {0: "ada"}  # the team is known: the task has started
    progress.queued(None, start + 100)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("queued")]
    assert lines == [
        "queued: 12 task(s) ahead of it, until the agents have room · 2s",
        "queued: next, until the agents have room · 32s",
    ]
    assert progress.in_queue is False
