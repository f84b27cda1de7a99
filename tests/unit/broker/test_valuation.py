"""Valuation: the card's prior moved by the gate's stats, optimistically."""

from __future__ import annotations

import pytest

from schemas.stats import AgentStats
from services.broker.registry import LiveAgent
from services.broker.valuation import (
    Valuation,
    candidates,
    posterior_p_g,
    posterior_p_v,
    quality,
    round_cost,
)

from ..builders import card

V = Valuation()


def seen(agent: str, *, rounds: int, ok: int, right: float, ordered: float = 0.5) -> AgentStats:
    """``right``: the share of its judged proposals that were right; ``ordered``: the share
    of its reviews' pairs ordered the way the outcome was."""
    return AgentStats(agent_id=agent, domain="math", rounds=rounds, proposals_ok=ok,
                          gen_trials=ok, gen_hits=round(right * ok), ver_trials=ok,
                          ver_hits=ordered * ok)  # fmt: skip


def test_with_no_telemetry_the_posterior_is_the_cards_prior() -> None:
    assert posterior_p_g(card("a", p_g=0.7), None, "math", V) == pytest.approx(0.7)


def test_p_g_is_a_beta_posterior_of_being_right() -> None:
    prior = card("a", p_g=0.5)
    good = posterior_p_g(prior, seen("a", rounds=20, ok=20, right=0.9), "math", V)
    bad = posterior_p_g(prior, seen("a", rounds=20, ok=20, right=0.1), "math", V)
    assert good == pytest.approx((10 * 0.5 + 18) / 30)
    assert bad < 0.5 < good


def test_p_v_is_learned_from_how_reviews_ordered_the_outcome() -> None:
    prior = card("a", p_g=0.5, p_v=0.8)
    assert posterior_p_v(prior, None, "math", V) == pytest.approx(0.8)
    at_chance = posterior_p_v(prior, seen("a", rounds=90, ok=90, right=0.5), "math", V)
    assert at_chance == pytest.approx((10 * 0.8 + 45) / 100)
    sharp = posterior_p_v(prior, seen("a", rounds=90, ok=90, right=0.5, ordered=1.0), "math", V)
    assert at_chance < 0.8 < sharp


def test_failures_lower_the_value_through_the_success_rate() -> None:
    prior = card("a", p_g=0.5)
    healthy = quality(prior, seen("a", rounds=10, ok=10, right=0.5), "math", V)
    failing = quality(prior, seen("a", rounds=10, ok=2, right=0.5), "math", V)
    assert failing < healthy / 2


def test_an_untried_agent_gets_the_benefit_of_the_doubt() -> None:
    prior = card("a", p_g=0.5)
    untried = quality(prior, None, "math", V)
    proven_average = quality(
        prior, seen("a", rounds=200, ok=200, right=0.5, ordered=0.6), "math", V
    )
    assert untried > proven_average
    cautious = Valuation(explore=0.0)
    assert quality(prior, None, "math", cautious) == pytest.approx(
        quality(prior, seen("a", rounds=200, ok=200, right=0.5, ordered=0.6), "math", cautious),
        abs=1e-3,
    )


def test_round_cost_prices_two_calls_at_the_expected_tokens() -> None:
    priced = card("a", price=1.0)  # $1 per million tokens in and out
    assert round_cost(priced, V) == pytest.approx(2 * (1500 + 600) / 1e6)


def test_candidates_read_telemetry_by_domain_and_agent() -> None:
    agent = LiveAgent(card=card("a", p_g=0.5), instances=1, capacity=2, in_flight=0)
    stats = {"math.a": seen("a", rounds=30, ok=30, right=0.9)}
    [math] = candidates([agent], stats, "math", V)
    [code] = candidates([agent], stats, "code", V)
    assert math.p_g > code.p_g == pytest.approx(0.5)
    assert math.p_v < code.p_v == pytest.approx(0.6)  # its reviews were at chance
    assert math.value > code.value
