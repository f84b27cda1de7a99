"""`nsed submit`'s progress: which member a round waits for, and the team's time budget."""

from __future__ import annotations

import time

import msgspec

from schemas.gate import DeliberationConcluded
from schemas.review import ReviewSubmitted
from schemas.team import Seat, TeamSelected
from services.cli.progress import Progress
from services.cli.submit import print_answer
from services.cli.view import RoundCounts, describe

from ..builders import proposal


def team(deadline_at: float | None = None) -> TeamSelected:
    return TeamSelected(
        task_id="t", round=1, message_id="m",
        seats=tuple(Seat(seat=i, agent_id=a) for i, a in enumerate(("ada", "ben", "cy"))),
        deadline_at=deadline_at, phase_timeout_s=40.0 if deadline_at else None,
    )  # fmt: skip


def test_a_round_waits_first_for_proposals_then_for_the_reviewers() -> None:
    counts = RoundCounts()
    describe(team(), counts)
    assert counts.waiting(1) == ("proposing", ["ada", "ben", "cy"])
    describe(proposal(0, "42", task_id="t", agent_id="ada"), counts)
    describe(proposal(2, None, task_id="t", agent_id="cy", status="error", content=""), counts)
    assert counts.waiting(1) == ("proposing", ["ben"])
    describe(proposal(1, "41", task_id="t", agent_id="ben"), counts)
    # cy's proposal failed: it reviews nothing, so the round waits for ada and ben only
    assert counts.waiting(1) == ("reviewing", ["ada", "ben"])
    # a review in is that seat's ballot (the voter validates it; the tally tells it later)
    describe(ReviewSubmitted(task_id="t", round=1, message_id="r0", seat=0, agent_id="ada"), counts)
    assert counts.waiting(1) == ("reviewing", ["ben"])
    assert counts.ballots[1] == 1


def test_the_team_line_says_how_long_the_team_may_take() -> None:
    line = describe(team(deadline_at=2e9), RoundCounts())
    assert line is not None
    assert "a phase (from the members' latency)" in line
    assert describe(team(), RoundCounts()) == "team (greedy): ada, ben, cy"


def test_off_a_terminal_a_long_wait_is_reported_with_the_members_awaited(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True)  # stderr is captured: not a terminal
    progress.on_event(team(deadline_at=2e9))
    assert progress.deadline_at == 2e9
    progress.on_event(proposal(0, "42", task_id="t", agent_id="ada"))
    now = time.time()  # the phase has been timed since the team came
    progress.tick(now + 5)
    progress.tick(now + 12)
    progress.tick(now + 20)  # already said within the last 30 s
    err = capsys.readouterr().err
    assert err.count("waiting for ben, cy") == 1
    assert "round 1: proposing for 12s" in err


def test_the_task_warnings_come_first_and_once(capsys) -> None:  # type: ignore[no-untyped-def]
    warning = "unknown field 'policy.max_round' ignored (did you mean 'policy.max_rounds'?)"
    progress = Progress("t", enabled=True)
    progress.on_event(msgspec.structs.replace(team(), warnings=(warning,)))
    result = DeliberationConcluded(
        task_id="t", round=1, message_id="r", status="completed", stop_reason="converged",
        answer="\\boxed{42}", extracted_answer="42", rounds=1, warnings=(warning,),
    )  # fmt: skip
    print_answer(result, progress.warned)
    err = capsys.readouterr().err.splitlines()
    assert err.count(f"nsed: warning: {warning}") == 1
    assert err.index(f"nsed: warning: {warning}") < next(
        i for i, line in enumerate(err) if line.startswith("team (")
    )


def test_simulated_agents_are_announced_before_the_team_and_once(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True, has_reference=False)
    progress.on_event(msgspec.structs.replace(team(), simulated=True))
    progress.on_event(msgspec.structs.replace(proposal(0, "42", task_id="t"), simulated=True))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "task t"
    assert err[1].startswith("simulated agents are answering")
    assert "hidden placeholder" in err[2]
    assert "not your question" in err[2]
    assert err[3].startswith("team (")
    assert sum("simulated agents" in line for line in err) == 1


def test_with_a_reference_answer_the_notice_says_what_it_is_measured_against(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True, has_reference=True)
    progress.on_event(team())  # an older broker: the team does not say
    progress.on_event(msgspec.structs.replace(proposal(0, "42", task_id="t"), simulated=True))
    err = capsys.readouterr().err
    assert "simulated agents are answering" in err
    assert "against your --answer" in err
    assert "placeholder" not in err


def test_real_agents_get_no_notice(capsys) -> None:  # type: ignore[no-untyped-def]
    progress = Progress("t", enabled=True)
    progress.on_event(team())
    progress.on_event(proposal(0, "42", task_id="t"))
    assert "simulated" not in capsys.readouterr().err
