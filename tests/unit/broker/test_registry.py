"""The broker's live registry of agent cards: free capacity summed over live instances,
puts and deletes applied from the key-value watch; bad, stale and draining cards left out."""

from __future__ import annotations

import msgspec

from services.broker.registry import Registry

from ..builders import NOW, card


def test_the_registry_sums_the_free_capacity_of_live_instances() -> None:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    registry.put(
        "a.i1", card("a", instance="i1", max_concurrency=4, in_flight=1, updated_at=NOW - 1)
    )
    registry.put("a.i2", card("a", instance="i2", max_concurrency=2, in_flight=3, updated_at=NOW))
    registry.put("a.i3", card("a", instance="i3", max_concurrency=8, updated_at=NOW - 60))  # stale
    registry.put("a.i4", card("a", instance="i4", max_concurrency=8, draining=True))
    [agent] = registry.live()
    assert (agent.instances, agent.capacity, agent.in_flight) == (2, 3, 4)
    assert agent.card.instance_id == "i2"  # the freshest card speaks for the agent


def test_the_registry_applies_puts_deletes_and_ignores_bad_cards() -> None:
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    registry.apply("a.i1", msgspec.json.encode(card("a")), "PUT")
    registry.apply("b.i1", msgspec.json.encode(card("b")), None)
    registry.apply("c.i1", b"{not json", "PUT")
    assert [a.agent_id for a in registry.live()] == ["a", "b"]
    registry.apply("a.i1", None, "DEL")
    registry.apply("b.i1", b"", "PURGE")
    assert registry.live() == []


def test_a_card_goes_stale_when_the_clock_moves_past_its_refresh() -> None:
    now = [NOW]
    registry = Registry(stale_after_s=10.0, clock=lambda: now[0])
    registry.put("a.i1", card("a", updated_at=NOW))
    assert len(registry.live()) == 1
    now[0] = NOW + 10.5
    assert registry.live() == []
