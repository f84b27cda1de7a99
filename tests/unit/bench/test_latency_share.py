"""The arithmetic of ``latency_share`` (``services/bench/latency.py``): a round's model path
is its slowest proposal plus its slowest review, and the share is the rounds' time beyond
their model paths, over their time."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.gate import DeliberationConcluded, RoundSummary
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from services.bench.latency import CallLog, RoundCalls, latency_share, summary

# Every call that came back took some time.
calls = st.lists(st.floats(min_value=0.001, max_value=100.0), min_size=1, max_size=8)


@st.composite
def rounds(draw: st.DrawFn) -> list[RoundCalls]:
    """Rounds that took at least their model path, as every real round does."""
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        proposals, reviews = tuple(draw(calls)), tuple(draw(calls))
        path = max(proposals) + max(reviews)
        extra = draw(st.floats(min_value=0.0, max_value=50.0))
        out.append(RoundCalls(wall_s=path + extra + 0.001, proposals=proposals, reviews=reviews))
    return out


def test_a_worked_round() -> None:
    one = RoundCalls(wall_s=4.1, proposals=(1.0, 2.0, 1.5), reviews=(2.0, 1.9))
    assert one.model_path_s == 4.0
    assert latency_share([one]) == pytest.approx(0.1 / 4.1)
    other = RoundCalls(wall_s=2.9, proposals=(1.0,), reviews=(1.0,))
    # the rounds' time together, not the mean of their shares
    assert latency_share([one, other]) == pytest.approx(1 - 6.0 / 7.0)


@settings(max_examples=200)
@given(rounds())
def test_the_share_is_between_nothing_and_everything(window: list[RoundCalls]) -> None:
    assert 0.0 <= latency_share(window) < 1.0


@settings(max_examples=200)
@given(rounds())
def test_rounds_that_last_exactly_their_slowest_calls_have_no_share(
    window: list[RoundCalls],
) -> None:
    exact = [RoundCalls(r.model_path_s, r.proposals, r.reviews) for r in window]
    assert latency_share(exact) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=200)
@given(rounds(), st.floats(min_value=0.01, max_value=100.0))
def test_the_share_does_not_depend_on_the_unit_of_time(window: list[RoundCalls], k: float) -> None:
    scaled = [
        RoundCalls(r.wall_s * k, tuple(c * k for c in r.proposals), tuple(c * k for c in r.reviews))
        for r in window
    ]
    assert latency_share(scaled) == pytest.approx(latency_share(window), abs=1e-9)


@settings(max_examples=200)
@given(rounds(), st.floats(min_value=0.001, max_value=10.0), st.data())
def test_time_added_to_a_round_outside_its_calls_raises_the_share(
    window: list[RoundCalls], added: float, data: st.DataObject
) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(window) - 1))
    slower = list(window)
    slower[i] = RoundCalls(window[i].wall_s + added, window[i].proposals, window[i].reviews)
    assert latency_share(slower) > latency_share(window)


@settings(max_examples=200)
@given(calls, calls, st.data())
def test_a_call_no_slower_than_the_slowest_of_its_wave_does_not_move_the_path(
    proposals: list[float], reviews: list[float], data: st.DataObject
) -> None:
    base = RoundCalls(100.0, tuple(proposals), tuple(reviews))
    faster = data.draw(st.floats(min_value=0.0, max_value=max(proposals)))
    more = RoundCalls(100.0, (*proposals, faster), tuple(reversed(reviews)))
    assert more.model_path_s == base.model_path_s


def test_the_summary_of_no_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        summary([])


@dataclass
class Heard:
    data: bytes


def _proposal(task: str, rnd: int, seat: int, latency: float, status: str = "ok") -> Heard:
    msg = ProposalSubmitted(task_id=task, round=rnd, message_id=f"p-{task}-{rnd}-{seat}",
                            proposal_id=f"{task}-{rnd}-{seat}", seat=seat, agent_id=f"a{seat}",
                            status=status, latency_s=latency)  # type: ignore[arg-type]  # fmt: skip
    return Heard(msgspec.json.encode(msg))


def _review(task: str, rnd: int, seat: int, latency: float) -> Heard:
    msg = ReviewSubmitted(task_id=task, round=rnd, message_id=f"r-{task}-{rnd}-{seat}",
                          seat=seat, agent_id=f"a{seat}", latency_s=latency)  # fmt: skip
    return Heard(msgspec.json.encode(msg))


async def test_calls_heard_count_once_each_in_their_own_task_and_round() -> None:
    log = CallLog()
    for heard in (_proposal("t", 1, 0, 1.0), _proposal("t", 1, 0, 1.0), _proposal("t", 1, 1, 3.0),
                  _proposal("t", 1, 2, 9.0, status="error"), _proposal("t", 2, 0, 5.0),
                  _proposal("u", 1, 0, 7.0)):  # fmt: skip
        await log.on_proposal(heard)
    for heard in (_review("t", 1, 0, 2.0), _review("t", 1, 1, 0.5), _review("t", 1, 1, 0.5)):
        await log.on_review(heard)
    result = DeliberationConcluded(
        task_id="t", round=2, message_id="c", status="completed", stop_reason="max_rounds",
        summaries=tuple(
            RoundSummary(round=n, winner=None, winner_agent=None, answer=None, conviction=0.0,
                         scores={}, state_tokens=0, ok_proposals=0, valid_ballots=0,
                         quorum_met=True, duration_s=wall)
            for n, wall in ((1, 5.5), (2, 6.0))
        ),
    )  # fmt: skip
    first, second = log.rounds(result)
    assert (sorted(first.proposals), sorted(first.reviews)) == ([1.0, 3.0], [0.5, 2.0])
    assert first.model_path_s == 5.0  # a failed call is no model time the round waited for
    assert (second.proposals, second.reviews, second.wall_s) == ((5.0,), (), 6.0)
