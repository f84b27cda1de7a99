"""The result's ``quality``: of the calls that came back, the proposals whose answer was
extracted and the reviews whose ballot validated, per round and summed over the task."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.gate import Quality
from schemas.propose import CallStatus
from schemas.record import RoundState
from services.gate.rounds import conclude
from services.gate.summary import quality, summarize
from services.reviewer.validation import absent_ballot

from ..builders import NOW, ballot, gating, proposal, record, team

replace = msgspec.structs.replace


def round_with(statuses: list[CallStatus], reviewed: dict[int, bool | None]) -> RoundState:
    """Seat i proposed with ``statuses[i]``; ``reviewed[i]``: seat i was asked to review and
    its ballot is valid (True), invalid (False) or timed out (None)."""
    props = [
        proposal(i, "42" if s == "ok" else None, status=s, content="x" if s != "error" else "")
        for i, s in enumerate(statuses)
    ]
    ballots = []
    for seat, valid in reviewed.items():
        if valid is None:
            ballots.append(absent_ballot("task-1", 1, seat, f"agent{seat}", "review timed out",
                                         f"b{seat}"))  # fmt: skip
        else:
            ballots.append(ballot(seat, {props[0].proposal_id: 10.0}, valid=valid))
    rec = record(proposals=props, ballots=ballots,
                 seats=team(*(f"agent{i}" for i in range(len(statuses)))))  # fmt: skip
    packets = {seat: {"Candidate_A": props[0].proposal_id} for seat in reviewed}
    return replace(rec.current, packets=packets)


def test_a_round_counts_answers_extracted_and_reviews_validated() -> None:
    cur = round_with(["ok", "no_answer", "error"], {0: True, 1: False})
    assert quality(cur) == Quality(proposals=3, answered=1, reviews=2, valid_reviews=1)


def test_a_review_that_never_came_is_not_counted() -> None:
    cur = round_with(["ok", "ok", "ok"], {0: True, 1: None, 2: True})
    assert quality(cur) == Quality(proposals=3, answered=3, reviews=2, valid_reviews=2)


def test_the_result_sums_its_rounds_and_the_round_a_deadline_cut_short() -> None:
    rec = gating(record(proposals=[proposal(0, "42"), proposal(1, None, status="no_answer")],
                        seats=team("agent0", "agent1")))  # fmt: skip
    first = summarize(rec.current, rec.current.tally, 0, 0.0, NOW)  # type: ignore[arg-type]
    assert first.quality == Quality(proposals=2, answered=1)
    cut = round_with(["ok", "ok"], {0: False, 1: True})
    rec = replace(rec, summaries=(first,), current=replace(cut, number=2, phase="reviewing"))
    result = conclude(rec, "deadline", "deadline reached", NOW).result
    assert result is not None
    assert result.quality == Quality(proposals=4, answered=3, reviews=2, valid_reviews=1)
    closed = replace(rec, current=replace(rec.current, number=1))  # its round is summarized
    again = conclude(closed, "max_rounds", "", NOW).result
    assert again is not None
    assert again.quality == first.quality


statuses = st.lists(st.sampled_from(["ok", "no_answer", "error", "skip"]), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(statuses, st.data())
def test_shares_are_shares_of_what_came_back(raw: list[CallStatus], data: st.DataObject) -> None:
    asked = data.draw(st.lists(st.integers(0, len(raw) - 1), unique=True))
    reviewed = {seat: data.draw(st.sampled_from([True, False, None])) for seat in asked}
    q = quality(round_with(raw, reviewed))
    assert 0 <= q.answered <= q.proposals == len(raw)
    assert q.answered == raw.count("ok")
    assert 0 <= q.valid_reviews <= q.reviews <= len(asked)
    assert q.reviews == sum(1 for v in reviewed.values() if v is not None)
    assert q.valid_reviews == sum(1 for v in reviewed.values() if v)
