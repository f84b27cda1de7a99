"""The timeline the web view folds a task's events into."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.propose import CallStatus
from schemas.review import ReviewSubmitted
from services.core import ids
from services.gateway.timeline import Timeline
from services.reviewer.packets import build_packets

from ..builders import gating, proposal, record, team
from ..deliberation_events import deliberation

STATUSES: list[CallStatus] = ["ok", "ok", "no_answer", "error"]


@settings(max_examples=150, deadline=None)
@given(
    agents=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=6),
    statuses=st.lists(st.sampled_from(STATUSES), min_size=6, max_size=6),
    round_number=st.integers(1, 5),
    task_id=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
    late=st.booleans(),
)
def test_each_reviewer_is_shown_the_labels_its_packet_gave_it(
    agents: list[str], statuses: list[CallStatus], round_number: int, task_id: str, late: bool
) -> None:
    props = [
        proposal(
            seat,
            str(seat),
            agent_id=agent,
            status=statuses[seat],
            task_id=task_id,
            round_number=round_number,
        )
        for seat, agent in enumerate(agents)
    ]
    # What the reviewer sent out, from the proposals in the record when the phase closed.
    packets = build_packets(task_id, round_number, props)
    rec = gating(
        record(
            the_task=msgspec.structs.replace(deliberation()[0].task, task_id=task_id),
            round_number=round_number,
            proposals=props,
            seats=team(*agents),
        )
    )
    assert rec.current.tally is not None
    # Each seat sent a packet reviews (what it wrote does not change what it was shown).
    reviews = [
        ReviewSubmitted(
            task_id=task_id,
            round=round_number,
            message_id=ids.review(task_id, round_number, seat),
            seat=seat,
            agent_id=agents[seat],
        )
        for seat in packets
    ]
    events: list[object] = [*props, *reviews, rec.current.tally]
    if late:
        # A seat's proposal that came after the phase closed: never in a packet.
        events.append(
            proposal(len(agents), "9", agent_id="late", task_id=task_id, round_number=round_number)
        )
    timeline = Timeline(task_id=task_id)
    for event in events:
        timeline.apply(event)
    view = timeline.rounds[round_number]
    for seat in range(len(agents) + 1):
        expected = {pid: label for label, pid in packets.get(seat, {}).items()}
        assert view.labels(task_id, seat) == expected


def test_no_label_is_shown_before_the_tally_fixes_the_candidates() -> None:
    _, events = deliberation(finished=False)
    timeline = Timeline(task_id=events[0].task_id)
    for event in events[:-1]:  # everything but the tally
        timeline.apply(event)
    assert all(timeline.rounds[1].labels(timeline.task_id, seat) == {} for seat in range(3))


def test_another_tasks_event_and_a_repeat_change_nothing() -> None:
    _, events = deliberation()
    timeline = Timeline(task_id="other")
    assert not any(timeline.apply(e) for e in events)
    timeline = Timeline(task_id=events[0].task_id)
    assert all(timeline.apply(e) for e in events)
    assert not any(timeline.apply(e) for e in events)


def test_a_round_sat_by_a_reselected_team_shows_that_team() -> None:
    rec, events = deliberation()
    timeline = Timeline(task_id=rec.task_id)
    for event in events:
        timeline.apply(event)
    second = msgspec.structs.replace(
        events[0], round=2, message_id=ids.team(rec.task_id, 2), seats=team("agent0", "zeta")
    )
    timeline.apply(proposal(0, "42", task_id=rec.task_id, round_number=2))
    timeline.apply(second)
    assert [s.agent_id for s in timeline.rounds[1].team] == ["agent0", "agent1", "agent2"]
    assert [s.agent_id for s in timeline.rounds[2].team] == ["agent0", "zeta"]
