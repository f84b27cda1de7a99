"""Per-agent stats (``nsed_telemetry``): what a closed round says about each member."""

from __future__ import annotations

import dataclasses
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.stats import AgentStats
from schemas.team import AgentCard
from services.gate.stats import InMemoryStatsStore, fold, observe, ordering

from ..builders import NOW, agreeing_round, task

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
    stats = fold(None, by_agent["agent1"], "math", NOW)
    assert stats.success_rate == 0.0
    assert stats.rounds == 1


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
    store = InMemoryStatsStore()
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


def test_with_a_reference_p_g_counts_right_proposals_and_p_v_right_first_orderings() -> None:
    rec = agreeing_round(["42", "41", "42"], WEIGHTS, the_task=task(reference="41"))
    by_agent = {o.agent_id: o for o in observe(rec)}
    assert [(o.gen_trial, o.gen_hit) for o in by_agent.values()] == [(1, 0), (1, 1), (1, 0)]
    # reviewer 0 ranked 41 (-50) below 42 (30): wrong; reviewer 1 had no 41 to rank;
    # reviewer 2 put 42 (90) above 41 (-10): wrong as well
    assert (by_agent["agent0"].ver_trial, by_agent["agent0"].ver_hit) == (1, 0.0)
    assert by_agent["agent1"].ver_trial == 0
    assert (by_agent["agent2"].ver_trial, by_agent["agent2"].ver_hit) == (1, 0.0)


def test_without_a_reference_the_supported_winning_answer_is_the_outcome() -> None:
    by_agent = {o.agent_id: o for o in observe(agreeing_round(["42", "41", "42"], WEIGHTS))}
    assert [o.gen_hit for o in by_agent.values()] == [1, 0, 1]
    assert by_agent["agent0"].ver_hit == 1.0
    assert by_agent["agent2"].ver_hit == 1.0


def test_a_round_without_a_supported_winner_teaches_nothing() -> None:
    against = {0: {1: -50, 2: -30}, 1: {0: -80, 2: -20}, 2: {0: -90, 1: -10}}
    observed = observe(agreeing_round(["42", "41", "7"], against))
    assert all(o.gen_trial == 0 and o.ver_trial == 0 and o.wins == 0 for o in observed)


def test_a_review_is_worth_the_share_of_pairs_it_ordered_right_first() -> None:
    assert ordering({"a": 80, "b": -20, "c": 80}, {"a"}) == 0.75  # a>b, a=c (half)
    assert ordering({"a": 10}, {"a"}) is None  # nothing to order it against
    assert ordering({"b": 10, "c": 20}, {"a"}) is None


def test_telemetry_out_of_range_is_refused_at_decoding() -> None:
    decoder = msgspec.json.Decoder(AgentStats)
    good = b'{"agent_id": "a", "domain": "d", "rounds": 2, "proposals_ok": 2, "gen_trials": 2}'
    assert decoder.decode(good).gen_trials == 2
    for bad in (b'"rounds": -1', b'"gen_trials": 1, "gen_hits": 3', b'"ver_hits": 1e400',
                b'"proposals_ok": 5'):  # fmt: skip
        with pytest.raises(msgspec.ValidationError):
            decoder.decode(b'{"agent_id": "a", "domain": "d", ' + bad + b"}")


card_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12)
)


@settings(max_examples=300)
@given(
    st.sampled_from(["price_in_per_mtok", "max_concurrency", "in_flight", "latency_p95_s",
                     "updated_at", "context_window"]),
    card_numbers,
    st.sampled_from(["p_g", "p_v"]),
    card_numbers,
)  # fmt: skip
def test_a_card_is_decoded_only_with_every_value_in_range(
    field: str, value: float, prior: str, prior_value: float
) -> None:
    body = {"agent_id": "a", "instance_id": "i", "model": "m", "family": "f", "backend": "sim",
            field: value, "domains": {"default": {prior: prior_value}}}  # fmt: skip
    try:
        card = msgspec.convert(body, AgentCard)
    except msgspec.ValidationError:
        return
    number = getattr(card, field)
    assert math.isfinite(number)
    assert number >= 0
    assert card.max_concurrency >= 1
    assert 0.0 <= getattr(card.prior("default"), prior) <= 1.0


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["rounds", "proposals_ok", "wins", "gen_trials",
                                        "gen_hits", "ver_trials", "ver_hits",
                                        "latency_ewma_s"]), card_numbers))  # fmt: skip
def test_telemetry_is_decoded_only_when_consistent(values: dict[str, float]) -> None:
    body = {"agent_id": "a", "domain": "d", **values}
    try:
        seen = msgspec.convert(body, AgentStats)
    except msgspec.ValidationError:
        return
    assert seen.gen_hits <= seen.gen_trials
    assert 0 <= seen.ver_hits <= seen.ver_trials + 1e-9
    assert seen.wins <= seen.proposals_ok <= seen.rounds
    assert math.isfinite(seen.latency_ewma_s)
    assert seen.latency_ewma_s >= 0
