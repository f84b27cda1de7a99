"""What `nsed submit`'s progress says about the members: the cost so far, the time
elapsed, a member that timed out (and which phase), a member replaced (and why)."""

from __future__ import annotations

import time

import msgspec
import pytest

from schemas.base import Usage
from schemas.review import ReviewSubmitted
from schemas.team import Seat, TeamSelected
from services.cli.progress import Progress
from services.cli.view import RoundCounts, lines_for

from ..builders import ballot, proposal, tally

AGENTS = ("ada", "ben", "cy")


def team(round_number: int = 1, agents: tuple[str, ...] = AGENTS) -> TeamSelected:
    return TeamSelected(
        task_id="t", round=round_number, message_id=f"team-{round_number}",
        seats=tuple(Seat(seat=i, agent_id=a) for i, a in enumerate(agents)),
        deadline_at=2e9, phase_timeout_s=40.0,
    )  # fmt: skip


def review(seat: int, cost: float, status: str = "ok", error: str | None = None) -> ReviewSubmitted:
    return ReviewSubmitted(
        task_id="t", round=1, message_id=f"review-{seat}", seat=seat, agent_id=AGENTS[seat],
        usage=Usage(cost_usd=cost, calls=1), status=status, error=error,  # type: ignore[arg-type]
    )  # fmt: skip


def said(counts: RoundCounts, *events: object) -> list[str]:
    return [line for event in events for line in lines_for(event, counts)]


def test_the_cost_so_far_sums_proposals_and_reviews_each_once() -> None:
    counts = RoundCounts()
    first = proposal(0, "42", task_id="t", agent_id="ada", cost=0.001)
    lines = said(
        counts, team(), first, first,  # a redelivered event counts once
        proposal(1, "42", task_id="t", agent_id="ben", cost=0.002), review(0, 0.0005),
        tally(task_id="t", round=1),
    )  # fmt: skip
    assert counts.cost_usd == pytest.approx(0.0035)
    assert lines[-1].startswith("round 1: winner")
    assert lines[-1].endswith("· $0.003500 so far")


def test_a_review_that_fails_is_said_with_its_error() -> None:
    lines = said(RoundCounts(), team(), review(1, 0.0, status="error", error="HTTP 503"))
    assert lines[-1] == "round 1: ben review error: HTTP 503"


def test_a_member_that_does_not_review_in_time_is_named_with_the_phase_timeout() -> None:
    timed_out = ballot(1, {}, task_id="t", agent_id="ben", valid=False, notes=("review timed out",))
    proposed = proposal(1, "42", task_id="t", agent_id="ben")
    lines = said(RoundCounts(), team(), proposed, tally(task_id="t", round=1, ballots=(timed_out,)))
    # said at the tally, which carries the round's ballots
    assert lines[-2:-1] == ["round 1: seat 1 (ben) did not review in time (40s a phase)"]
    assert lines[-1].startswith("round 1: winner")


def test_a_member_that_does_not_propose_in_time_is_named_once() -> None:
    absent = ballot(2, {}, task_id="t", agent_id="cy", valid=False,
                    notes=("no proposal in time; not a reviewer this round",))  # fmt: skip
    counts = RoundCounts()
    lines = said(counts, team(), proposal(0, "42", task_id="t", agent_id="ada"),
                 tally(task_id="t", round=1, ballots=(absent,)))  # fmt: skip
    named = [line for line in lines if "did not propose in time" in line]
    assert named == ["round 1: seat 2 (cy) did not propose in time (40s a phase)"]


def test_a_protocol_without_review_names_a_missing_proposal_at_the_tally() -> None:
    # vote: every seat's ballot is absent ("no review in protocol vote"), timed out or not.
    absent = [
        ballot(s, {}, task_id="t", agent_id=a, valid=False, notes=("no review in protocol vote",))
        for s, a in enumerate(AGENTS)
    ]
    lines = said(RoundCounts(), team(), proposal(0, "42", task_id="t", agent_id="ada"),
                 proposal(1, "42", task_id="t", agent_id="ben"),
                 tally(task_id="t", round=1, ballots=tuple(absent)))  # fmt: skip
    assert "round 1: seat 2 (cy) did not propose in time (40s a phase)" in lines
    assert sum("did not propose" in line for line in lines) == 1


def test_a_replaced_member_is_named_with_the_reason() -> None:
    counts = RoundCounts()
    lines = said(counts, team(), team(2, ("ada", "dee", "cy")))
    assert "round 2: ben is no longer live (it left the pool); dee takes its seat 1" in lines
    assert lines[-1].startswith("team (greedy): ada, dee, cy")


def test_the_same_team_again_names_no_replacement() -> None:
    counts = RoundCounts()
    said(counts, team())
    again = said(counts, msgspec.structs.replace(team(), message_id="team-1-again"))
    assert not any("no longer live" in line for line in again)


def test_a_long_wait_says_how_long_the_task_has_run_and_what_it_cost(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True)  # stderr is captured: not a terminal
    progress.on_event(team())
    progress.on_event(proposal(0, "42", task_id="t", agent_id="ada", cost=0.00125))
    progress.tick(time.time() + 12)
    err = capsys.readouterr().err
    assert "round 1: proposing for 12s, waiting for ben, cy · 12s in, $0.001250 so far" in err


def test_an_error_with_brackets_is_printed_as_it_is(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True)
    progress.on_event(team())
    error = "HTTP 404 [model not found] at [/v1]"
    progress.on_event(proposal(1, None, task_id="t", agent_id="ben", status="error", content=""))
    failed = msgspec.structs.replace(
        proposal(2, None, task_id="t", agent_id="cy", status="error", content=""), error=error
    )
    progress.on_event(failed)
    assert f"round 1: cy error: {error}" in capsys.readouterr().err
