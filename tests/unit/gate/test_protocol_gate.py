"""The gate's decisions for vote, moa and debate (services/gate/protocols.py): who
aggregates, when each protocol stops, and which stops every protocol keeps."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.team import Seat, TeamSelected
from services.gate import protocols
from services.gate.stats import observe

from ..builders import NOW, gating, proposal, record, tally, task


def seats(*p_g: float | None) -> tuple[Seat, ...]:
    return tuple(Seat(seat=n, agent_id=f"agent{n}", p_g=p) for n, p in enumerate(p_g))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.sampled_from([0.2, 0.5, 0.7, 0.9]), min_size=1, max_size=6))
def test_the_aggregator_is_the_highest_p_g_and_the_lowest_seat_among_equals(
    p_g: list[float | None],
) -> None:
    [chosen] = protocols.aggregator(seats(*p_g))
    known = [0.5 if p is None else p for p in p_g]  # unknown: the neutral prior
    assert known[chosen.seat] == max(known)
    assert chosen.seat == known.index(max(known))
    assert (chosen.role, chosen.agent_id) == ("aggregator", f"agent{chosen.seat}")


def decide(protocol: str, round_number: int, *, quorum: bool = True, unanimous: bool = False,
           spend: float = 0.0, cost: float = 0.0, duration: float = 1.0, **policy: object
           ) -> protocols.halting.Decision:  # fmt: skip
    rec = record(the_task=task(protocol=protocol, **policy), round_number=round_number)
    return protocols.decide(
        rec, tally(quorum_met=quorum, unanimous=unanimous), now=NOW, round_duration_s=duration,
        spend_usd=spend, round_cost_usd=cost,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "round_number", "policy", "expected"),
    [
        ("vote", 1, {"max_rounds": 6}, (True, "max_rounds", "vote: one round")),
        ("moa", 1, {"max_rounds": 3}, (False, None, "moa: layer 2 of 3")),
        ("moa", 3, {"max_rounds": 3}, (False, None, "moa: the aggregator's round")),
        ("moa", 4, {"max_rounds": 3}, (True, "max_rounds", "moa: aggregated")),
        ("debate", 1, {"max_rounds": 3}, (False, None, "debate: round 2 of 3")),
        ("debate", 3, {"max_rounds": 3}, (True, "max_rounds", "round 3 of 3")),
    ],
)
def test_each_protocol_stops_where_it_says(
    protocol: str, round_number: int, policy: dict[str, int], expected: tuple[object, ...]
) -> None:
    d = decide(protocol, round_number, **policy)
    assert (d.stop, d.reason, d.note) == expected


def test_a_debate_converges_on_agreement_only_from_min_rounds_on() -> None:
    assert not decide("debate", 1, unanimous=True, min_rounds=2, max_rounds=4).stop
    d = decide("debate", 2, unanimous=True, min_rounds=2, max_rounds=4)
    assert (d.stop, d.reason) == (True, "converged")


@pytest.mark.parametrize("protocol", ["moa", "debate"])
def test_every_protocol_keeps_the_quorum_budget_and_deadline_stops(protocol: str) -> None:
    assert decide(protocol, 1, quorum=False).reason == "no_quorum"
    assert decide(protocol, 1, spend=0.8, cost=0.3, budget_usd=1.0).reason == "budget"
    assert decide(protocol, 1, duration=NOW, deadline_s=10.0).reason == "deadline"
    assert not decide(protocol, 1, spend=0.5, cost=0.3, budget_usd=1.0).stop


def test_moa_reports_its_layers_team_not_the_aggregator_alone() -> None:
    rec = record(the_task=task(protocol="moa", max_rounds=1), round_number=2,
                 seats=protocols.aggregator(seats(0.4, 0.8)))  # fmt: skip
    assert protocols.result_team(rec) == rec.current.team  # nothing else is known
    selected = TeamSelected(task_id="task-1", round=1, message_id="m", seats=seats(0.4, 0.8))
    layers = msgspec.structs.replace(rec, team_selected=selected)
    assert protocols.result_team(layers) == seats(0.4, 0.8)


def test_a_lone_proposal_is_no_evidence_of_an_agents_precision() -> None:
    """Without a reference, a round's outcome is its winning answer; a proposal alone (the
    moa aggregator, a vote of one) is its own winner and says nothing about its agent."""
    alone = gating(record(the_task=task(protocol="vote"), seats=seats(0.5)[:1],
                          proposals=[proposal(0, "42")]))  # fmt: skip
    [observed] = observe(alone)
    assert (observed.ok, observed.gen_trial) == (1, 0)
    both = gating(record(the_task=task(protocol="vote"), seats=seats(0.5, 0.5),
                         proposals=[proposal(0, "42"), proposal(1, "41")]))  # fmt: skip
    assert sum(o.gen_trial for o in observe(both)) == 2
