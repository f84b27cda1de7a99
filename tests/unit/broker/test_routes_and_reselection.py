"""What routes may emit is enforced; a re-selected round emits what its route declares and
logs who left; the reviewer keeps as much reasoning as its setting says."""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest

from schemas.gate import RoundContinued
from schemas.propose import ConsensusState, ProposeRequested
from schemas.review import ReviewRequested
from schemas.team import TeamSelected
from services._runtime.errors import UndeclaredOutput
from services._runtime.logging import configure_logging
from services._runtime.route import Route
from services.broker.routes import routes as broker_routes
from services.core.tokens import estimate_tokens
from services.inmemory import InMemoryServices
from services.reviewer.handlers import ReviewerDeps, on_proposal
from services.reviewer.settings import ReviewerSettings
from tests.unit.system.test_round_flow import of_type, propose_all, review_all, the_task, twice

from ..builders import NOW, arrived, card, proposal_for


def _route(inmem: InMemoryServices, name: str) -> Route:
    return next(r for r in broker_routes(inmem.broker) if r.name == name)


async def _continued(inmem: InMemoryServices, task_id: str) -> RoundContinued:
    """Round 1 of ``task_id`` run to a contested tally, closed by the gate: round 2 opens."""
    opened = await twice(inmem, the_task(task_id))
    released = await propose_all(inmem, of_type(opened, ProposeRequested))
    beliefs = {"alpha": "42", "bravo": "41", "charlie": "42"}
    tally = await review_all(inmem, of_type(released, ReviewRequested), beliefs)
    inmem.clock.now = NOW + 12
    [continued] = await twice(inmem, tally)
    assert isinstance(continued, RoundContinued)
    for agent_id, p_g in (("alpha", 0.6), ("bravo", 0.55), ("charlie", 0.5)):  # heartbeats
        inmem.registry.put(
            f"{agent_id}.i1",
            card(agent_id, p_g=p_g, p_v=p_g + 0.25, latency_p95_s=1.0, updated_at=NOW + 12),
        )
    return continued


def test_a_route_refuses_to_emit_a_type_it_does_not_declare(inmem: InMemoryServices) -> None:
    tasks = _route(inmem, "broker-tasks")
    continued = RoundContinued(
        task_id="t", round=1, message_id="m", next_round=2, state=ConsensusState()
    )
    with pytest.raises(UndeclaredOutput, match="broker-tasks emitted RoundContinued"):
        tasks.check_outputs([continued])


async def test_a_round_re_selected_after_a_member_left_emits_only_declared_types(
    inmem: InMemoryServices,
) -> None:
    continued = await _continued(inmem, "resel-1")
    inmem.registry.remove("charlie.i1")
    inmem.registry.put(
        "delta.i1", card("delta", p_g=0.5, p_v=0.75, latency_p95_s=1.0, updated_at=NOW + 12)
    )

    out = await inmem.handle(continued)

    [team] = of_type(out, TeamSelected)
    assert "charlie" not in {s.agent_id for s in team.seats}
    assert "delta" in {s.agent_id for s in team.seats}
    _route(inmem, "broker-continued").check_outputs(out)


def _short_handed(inmem: InMemoryServices, task_id: str) -> None:
    """The round just closed as if one member's ballot had been missing."""
    record = inmem.store.records[task_id]
    last = msgspec.structs.replace(record.summaries[-1], degraded=True, valid_ballots=2)
    inmem.store.records[task_id] = msgspec.structs.replace(
        record, summaries=(*record.summaries[:-1], last)
    )


@pytest.mark.parametrize("short", [True, False])
async def test_after_a_short_handed_round_the_broker_reads_the_cards_before_keeping_the_team(
    inmem: InMemoryServices, short: bool
) -> None:
    # charlie's call failed and its runner wrote an unhealthy card, which the watch has not
    # brought yet: only a fresh read of the cards shows it.
    continued = await _continued(inmem, f"refresh-{short}")
    inmem.registry.put(
        "delta.i1", card("delta", p_g=0.5, p_v=0.75, latency_p95_s=1.0, updated_at=NOW + 12)
    )
    reads = []

    async def refresh() -> None:
        reads.append(inmem.clock.now)
        sick = card("charlie", p_g=0.5, p_v=0.75, latency_p95_s=1.0, updated_at=NOW + 12)
        inmem.registry.put("charlie.i1", msgspec.structs.replace(sick, healthy=False))

    inmem.broker = dataclasses.replace(inmem.broker, refresh=refresh)
    if short:
        _short_handed(inmem, f"refresh-{short}")

    out = await inmem.handle(continued)

    assert len(reads) == (1 if short else 0)  # a whole round costs no read
    teams = of_type(out, TeamSelected)
    if short:
        assert {s.agent_id for s in teams[0].seats} == {"alpha", "bravo", "delta"}
    else:
        assert teams == []  # the same team goes on
        assert {r.agent_id for r in of_type(out, ProposeRequested)} == {
            "alpha",
            "bravo",
            "charlie",
        }


async def test_a_failed_re_selection_logs_the_members_who_left(
    inmem: InMemoryServices, capfd: pytest.CaptureFixture[str]
) -> None:
    continued = await _continued(inmem, "resel-2")
    inmem.registry.remove("charlie.i1")
    inmem.registry.remove("bravo.i1")  # one agent left: no team of two can be formed
    configure_logging("tests", "warning", json=True)  # JSON lines on stderr, as services log
    capfd.readouterr()

    await inmem.handle(continued)

    logs = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    [failed] = [line for line in logs if line["event"] == "reselection_failed"]
    assert failed["left"] == ["bravo", "charlie"]


@pytest.mark.parametrize("kept", [50, 600])
async def test_the_record_keeps_as_much_reasoning_as_the_reviewer_setting_says(
    inmem: InMemoryServices, kept: int
) -> None:
    deps = ReviewerDeps(
        store=inmem.store,
        clock=inmem.clock,
        settings=ReviewerSettings(reasoning_excerpt_tokens=kept),
    )
    opened = await inmem.handle(the_task(f"reasoning-{kept}"))
    request = of_type(opened, ProposeRequested)[0]
    long = "I checked every step of the product twice. " * 200  # ~2,200 tokens
    proposal = msgspec.structs.replace(proposal_for(request, "42"), reasoning=long)
    await on_proposal(proposal, arrived(proposal), deps)
    [stored] = inmem.store.records[f"reasoning-{kept}"].current.proposals
    assert stored.reasoning is not None
    assert kept - 8 <= estimate_tokens(stored.reasoning) <= kept + 8
