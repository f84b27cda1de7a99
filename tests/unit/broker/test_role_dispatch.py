"""A seat's role and its instruction travel to that seat alone: in its proposal request
(the broker) and its review request (the reviewer), for every seat of every round."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.propose import ProposeRequested
from schemas.team import Seat
from services.broker.dispatch import dispatch_round
from services.core.roles import DEFAULTS
from services.reviewer.phases import open_review, review_requests

from ..builders import NOW, proposal, record, task

ROLES = {"solver": 2, "verifier": 1}
MINE = "Recompute every product by hand before you score it."
SEATS = (
    Seat(seat=0, agent_id="agent0", role="solver"),
    Seat(seat=1, agent_id="agent1", role="solver"),
    Seat(seat=2, agent_id="agent2", role="verifier"),
)


def test_each_proposal_request_carries_its_own_seats_role_and_instruction() -> None:
    the_task = task(team_size=3, roles=ROLES, role_instructions={"verifier": MINE})
    out = [m for m in dispatch_round(record(the_task=the_task, seats=SEATS))
           if isinstance(m, ProposeRequested)]  # fmt: skip
    assert [(m.seat, m.agent_id, m.role, m.role_instruction) for m in out] == [
        (0, "agent0", "solver", DEFAULTS["solver"]),
        (1, "agent1", "solver", DEFAULTS["solver"]),
        (2, "agent2", "verifier", MINE),
    ]


def test_a_team_without_roles_is_sent_no_instruction() -> None:
    out = [m for m in dispatch_round(record()) if isinstance(m, ProposeRequested)]
    assert [(m.role, m.role_instruction) for m in out] == [("member", None)] * 3


def test_each_review_request_carries_the_reviewing_seats_role_and_instruction() -> None:
    the_task = task(team_size=3, roles=ROLES, role_instructions={"verifier": MINE})
    proposals = [proposal(i, "42") for i in range(3)]
    reviewing = open_review(record(the_task=the_task, seats=SEATS, proposals=proposals), NOW)
    out = review_requests(reviewing, excerpt_tokens=64)
    assert [(m.seat, m.role, m.role_instruction) for m in out] == [
        (0, "solver", DEFAULTS["solver"]),
        (1, "solver", DEFAULTS["solver"]),
        (2, "verifier", MINE),
    ]


@settings(max_examples=50, deadline=None)
@given(st.permutations(["solver", "solver", "verifier", "skeptic"]))
def test_no_seat_is_sent_another_roles_instruction(order: list[str]) -> None:
    roles = {"solver": 2, "verifier": 1, "skeptic": 1}
    own = {"verifier": "V only.", "skeptic": "S only."}
    seats = tuple(Seat(seat=i, agent_id=f"agent{i}", role=r) for i, r in enumerate(order))
    the_task = task(team_size=4, roles=roles, role_instructions=own)
    rec = record(the_task=the_task, seats=seats, proposals=[proposal(i, "42") for i in range(4)])
    proposes = [m for m in dispatch_round(rec) if isinstance(m, ProposeRequested)]
    reviews = review_requests(open_review(rec, NOW), excerpt_tokens=64)
    assert len(proposes) == len(reviews) == 4
    for m in [*proposes, *reviews]:
        assert m.role == order[m.seat]
        assert m.role_instruction == own.get(m.role, DEFAULTS["solver"])
