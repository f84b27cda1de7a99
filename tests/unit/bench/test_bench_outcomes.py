"""A benchmark task's outcome from the evidence about it (services/bench/outcomes.py): every
task gets exactly one outcome, and only a plain-subscriber's reconnect excuses a result it
never received."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.bench.outcomes import OUTCOMES, Evidence, classify, tally

GAP = (100.0, 105.0)


def away(at: float) -> bool:
    return GAP[0] <= at < GAP[1]


evidence = st.builds(
    Evidence,
    received=st.integers(0, 4),
    stored_at=st.none() | st.floats(90.0, 115.0),
    record=st.sampled_from(["absent", "running", "done"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(evidence, max_size=40))
def test_every_task_has_one_outcome_and_repeats_are_duplicates(items: list[Evidence]) -> None:
    counts = tally(items, away)
    assert sum(counts[name] for name in OUTCOMES) == len(items)
    assert counts["duplicates"] == sum(max(i.received - 1, 0) for i in items)
    assert counts["answered"] == sum(1 for i in items if i.received > 0)


@settings(max_examples=300, deadline=None)
@given(evidence)
def test_only_a_reconnect_excuses_a_stored_result_never_received(item: Evidence) -> None:
    outcome = classify(item, away)
    if item.received == 0 and item.stored_at is not None:
        assert outcome == ("missed" if away(item.stored_at) else "lost")
    if outcome == "missed":
        assert item.stored_at is not None
        assert away(item.stored_at)
    if outcome == "stuck":
        assert (item.received, item.stored_at, item.record) == (0, None, "running")


def test_each_outcome() -> None:
    assert classify(Evidence(received=1, stored_at=101.0, record="done"), away) == "answered"
    assert classify(Evidence(received=0, stored_at=101.0, record="done"), away) == "missed"
    assert classify(Evidence(received=0, stored_at=99.0, record="done"), away) == "lost"
    assert classify(Evidence(received=0, stored_at=None, record="done"), away) == "lost"
    assert classify(Evidence(received=0, stored_at=None, record="absent"), away) == "lost"
    assert classify(Evidence(received=0, stored_at=None, record="running"), away) == "stuck"
