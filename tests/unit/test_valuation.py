"""Valuation: the card's prior moved by the gate's telemetry, optimistically."""

from __future__ import annotations

import pytest

from schemas.telemetry import AgentTelemetry
from services.broker.registry import LiveAgent
from services.broker.valuation import Valuation, candidates, posterior_p_g, quality, round_cost

from .builders import card

V = Valuation()


def seen(agent: str, *, rounds: int, ok: int, support: float) -> AgentTelemetry:
    """``support``: the agent's mean peer standing, mapped from −1…1 onto 0…1."""
    return AgentTelemetry(agent_id=agent, domain="math", rounds=rounds, proposals_ok=ok,
                          judged=ok, standing_sum=(support + 1) / 2 * ok)  # fmt: skip


def test_with_no_telemetry_the_posterior_is_the_cards_prior() -> None:
    assert posterior_p_g(card("a", p_g=0.7), None, "math", V) == pytest.approx(0.7)


def test_peer_support_raises_the_estimate_and_peer_rejection_lowers_it() -> None:
    prior = card("a", p_g=0.5)
    good = posterior_p_g(prior, seen("a", rounds=20, ok=20, support=0.8), "math", V)
    bad = posterior_p_g(prior, seen("a", rounds=20, ok=20, support=-0.8), "math", V)
    assert good == pytest.approx((10 * 0.5 + 20 * 0.9) / 30)
    assert bad < 0.5 < good


def test_failures_lower_the_value_through_the_success_rate() -> None:
    prior = card("a", p_g=0.5)
    healthy = quality(prior, seen("a", rounds=10, ok=10, support=0.0), "math", V)
    failing = quality(prior, seen("a", rounds=10, ok=2, support=0.0), "math", V)
    assert failing < healthy / 2


def test_an_untried_agent_gets_the_benefit_of_the_doubt() -> None:
    prior = card("a", p_g=0.5)
    untried = quality(prior, None, "math", V)
    proven_average = quality(prior, seen("a", rounds=200, ok=200, support=0.0), "math", V)
    assert untried > proven_average
    cautious = Valuation(explore=0.0)
    assert quality(prior, None, "math", cautious) == pytest.approx(
        quality(prior, seen("a", rounds=200, ok=200, support=0.0), "math", cautious), abs=1e-3
    )


def test_round_cost_prices_two_calls_at_the_expected_tokens() -> None:
    priced = card("a", price=1.0)  # $1 per million tokens in and out
    assert round_cost(priced, V) == pytest.approx(2 * (1500 + 600) / 1e6)


def test_candidates_read_telemetry_by_domain_and_agent() -> None:
    agent = LiveAgent(card=card("a", p_g=0.5), instances=1, capacity=2, in_flight=0)
    telemetry = {"math.a": seen("a", rounds=30, ok=30, support=0.9)}
    [math] = candidates([agent], telemetry, "math", V)
    [code] = candidates([agent], telemetry, "code", V)
    assert math.p_g > code.p_g == pytest.approx(0.5)
    assert math.value > code.value
