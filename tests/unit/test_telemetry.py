"""Per-agent telemetry (§3 ``nsed_telemetry``): what a closed round says about each member."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from services.gate.telemetry import InMemoryTelemetryStore, fold, observe, peer_standing

from .builders import NOW, agreeing_round

# seat 0 wins with 42; seat 1 answered 41; seat 2 also 42
WEIGHTS = {0: {1: -50, 2: 30}, 1: {0: 80, 2: 20}, 2: {0: 90, 1: -10}}


def test_a_round_is_observed_once_per_seated_agent() -> None:
    rec = agreeing_round(["42", "41", "42"], WEIGHTS)
    by_agent = {o.agent_id: o for o in observe(rec)}
    assert set(by_agent) == {"agent0", "agent1", "agent2"}
    assert by_agent["agent0"].wins == 1
    assert by_agent["agent0"].agreed == 1
    assert by_agent["agent1"].wins == 0
    assert by_agent["agent1"].agreed == 0
    assert by_agent["agent2"].agreed == 1  # same answer as the winner, not the winner
    assert by_agent["agent0"].net_support > 0 > by_agent["agent1"].net_support
    assert all(o.seated == 1 and o.ok == 1 and o.reviews_valid == 1 for o in by_agent.values())


def test_errors_and_timeouts_count_against_success() -> None:
    rec = agreeing_round(["42", None, "42"], {0: {2: 30}, 2: {0: 80}})
    cur = msgspec.structs.replace(rec.current, timed_out=())
    by_agent = {o.agent_id: o for o in observe(msgspec.structs.replace(rec, current=cur))}
    assert by_agent["agent1"].errors == 1
    assert by_agent["agent1"].ok == 0
    telemetry = fold(None, by_agent["agent1"], "math", NOW)
    assert telemetry.success_rate == 0.0
    assert telemetry.rounds == 1


def test_folding_accumulates_counts_and_averages_latency() -> None:
    rec = agreeing_round(["42", "41", "42"], WEIGHTS)
    winner = next(o for o in observe(rec) if o.agent_id == "agent0")
    first = fold(None, dataclasses.replace(winner, latency_s=2.0), "math", NOW)
    second = fold(first, dataclasses.replace(winner, latency_s=4.0), "math", NOW + 1)
    assert (second.rounds, second.wins, second.proposals_ok) == (2, 2, 2)
    assert second.win_rate == 1.0
    assert second.latency_ewma_s == pytest.approx(0.8 * 2.0 + 0.2 * 4.0)
    assert second.mean_net_support == pytest.approx(winner.net_support)
    assert (second.domain, second.updated_at) == ("math", NOW + 1)


async def test_the_in_memory_store_keeps_one_value_per_domain_and_agent() -> None:
    store = InMemoryTelemetryStore()
    obs = observe(agreeing_round(["42", "41", "42"], WEIGHTS))[0]
    await store.apply("math", obs.agent_id, lambda prev: fold(prev, obs, "math", NOW))
    await store.apply("math", obs.agent_id, lambda prev: fold(prev, obs, "math", NOW))
    await store.apply("code", obs.agent_id, lambda prev: fold(prev, obs, "code", NOW))
    math_value = await store.get("math", obs.agent_id)
    assert math_value is not None
    assert math_value.rounds == 2
    code_value = await store.get("code", obs.agent_id)
    assert code_value is not None
    assert code_value.rounds == 1


def test_peer_standing_is_relative_so_a_mutual_pair_stays_average() -> None:
    # Two agents backing each other fully: each holds half the positive mass → 0.5 each.
    assert peer_standing({0: {"b": 1.0}, 1: {"a": 1.0}}, ["a", "b"]) == {"a": 0.5, "b": 0.5}


def test_peer_standing_rewards_the_proposal_the_round_backs() -> None:
    votes = {0: {"b": -0.7, "c": 0.7}, 1: {"a": -0.7, "c": 0.7}, 2: {"a": 0.7, "b": -0.7}}
    standing = peer_standing(votes, ["a", "b", "c"])
    assert standing["c"] == pytest.approx(1.0)  # two thirds of the mass, against k = 3
    assert standing["a"] == pytest.approx(0.5)
    assert standing["b"] == 0.0


def test_a_round_with_nothing_to_compare_gives_no_standing() -> None:
    assert peer_standing({}, ["a", "b"]) == {}
    assert peer_standing({0: {"a": 1.0}}, ["a"]) == {}
