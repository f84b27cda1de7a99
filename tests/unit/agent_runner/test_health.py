"""A runner reports itself unhealthy while its backend fails, and the broker does not seat
it: the health state machine, its background re-probe, the card and the registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.agent_runner.backends.base import BackendError, ProposalDraft, ReviewDraft
from services.agent_runner.config import load_pool
from services.agent_runner.health import CheckedBackend, Health, HealthMonitor
from services.agent_runner.heartbeat import card_of
from services.agent_runner.probe import probe_request
from services.broker.registry import LiveAgent, Registry
from services.cli.inspect import print_agents
from tests.support.wait import until
from tests.unit.cli.test_cli_output import live

from ..builders import NOW, card

POOL = load_pool(Path(__file__).resolve().parents[2] / "data" / "pool.toml")

Event = tuple[str, bool]  # ("call" | "probe", succeeded)
events = st.lists(st.tuples(st.sampled_from(["call", "probe"]), st.booleans()), max_size=40)


def expected_healthy(history: list[Event], unhealthy_after: int) -> bool:
    """The rule, stated over the whole history: since the last success, no probe failed
    and fewer than ``unhealthy_after`` calls failed (the start counts as a success)."""
    since: list[Event] = []
    for event in history:
        since = [] if event[1] else [*since, event]
    return not any(kind == "probe" for kind, _ in since) and len(since) < unhealthy_after


@given(history=events, unhealthy_after=st.integers(min_value=1, max_value=5))
def test_health_is_the_rule_over_any_history_of_calls_and_probes(
    history: list[Event], unhealthy_after: int
) -> None:
    health = Health(unhealthy_after=unhealthy_after)
    for kind, ok in history:
        was = health.healthy
        if ok:
            changed = health.succeeded()
        elif kind == "call":
            changed = health.call_failed("boom")
        else:
            changed = health.probe_failed("boom")
        assert changed >= (was != health.healthy)  # every flip is reported
    assert health.healthy == expected_healthy(history, unhealthy_after)
    assert (health.reason == "") == health.healthy  # unhealthy always says why


def test_the_reason_names_the_calls_that_failed_and_the_last_error() -> None:
    health = Health(unhealthy_after=3)
    assert not health.call_failed("HTTP 500")
    assert not health.call_failed("HTTP 500")
    assert health.call_failed("cannot reach http://127.0.0.1:9/v1")
    assert health.reason == "3 calls in a row failed: cannot reach http://127.0.0.1:9/v1"
    assert not health.call_failed("again")  # already unhealthy: no news
    assert Health(unhealthy_after=1).probe_failed("x" * 1000)


class Flaky:
    """A backend whose calls fail while ``down``; counts its calls."""

    simulated = False

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        self.calls += 1
        if self.down:
            raise BackendError("cannot reach http://127.0.0.1:9/v1")
        return ProposalDraft(
            content="\\boxed{17}", reasoning=None, input_tokens=1, output_tokens=1, latency_s=0.01
        )

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        raise AssertionError("not asked")

    async def aclose(self) -> None:
        return None


async def test_a_runner_marked_unhealthy_probes_again_with_backoff_until_it_answers() -> None:
    flaky = Flaky()
    published: list[tuple[bool, str]] = []

    async def check() -> str | None:
        try:
            await flaky.propose(probe_request(POOL.agent("alpha"), NOW))
        except BackendError as exc:
            return str(exc)
        return None

    monitor = HealthMonitor(Health(unhealthy_after=2), check, first_s=0.01, max_s=0.04)

    async def publish() -> None:
        published.append(monitor.state())

    monitor.on_change = publish
    backend = CheckedBackend(flaky, monitor)
    request = probe_request(POOL.agent("alpha"), NOW)
    stop = asyncio.Event()
    recovering = asyncio.create_task(monitor.recover(stop))
    try:
        for _ in range(2):
            with pytest.raises(BackendError):
                await backend.propose(request)
        # Published before the failing call returned: the broker hears it first.
        assert published == [(False, "2 calls in a row failed: cannot reach http://127.0.0.1:9/v1")]
        await until(lambda: flaky.calls >= 5, what="probes while the backend is down")
        assert not monitor.health.healthy
        assert monitor.health.reason.startswith("probe failed: cannot reach")
        flaky.down = False
        await until(lambda: monitor.health.healthy, what="the probe that succeeds")
        assert published[-1] == (True, "")
        calls = flaky.calls
        await backend.propose(request)
        assert flaky.calls == calls + 1  # healthy again: no more probes, only the call
    finally:
        stop.set()
        await asyncio.wait_for(recovering, timeout=5)


def test_the_card_carries_the_health_and_the_registry_seats_only_healthy_agents() -> None:
    agent = POOL.agent("alpha")
    sick = card_of(agent, "i1", 0, started_at=NOW, now=NOW, health=(False, "probe failed: 500"))
    assert (sick.healthy, sick.health) == (False, "probe failed: 500")
    registry = Registry(stale_after_s=10.0, clock=lambda: NOW)
    registry.put("alpha.i1", sick)
    registry.put("b.i1", card("b"))
    assert [a.agent_id for a in registry.live()] == ["b"]
    [unhealthy] = registry.unhealthy()
    assert (unhealthy.agent_id, unhealthy.card.health) == ("alpha", "probe failed: 500")
    # One healthy instance keeps the agent live; its unhealthy one is not counted.
    registry.put("alpha.i2", card_of(agent, "i2", 0, started_at=NOW, now=NOW))
    [a, _] = registry.live()
    assert (a.agent_id, a.instances) == ("alpha", 1)
    assert registry.unhealthy() == []


def test_nsed_agents_names_an_unhealthy_agent_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sick = LiveAgent(
        card=card_of(POOL.agent("bravo"), "i1", 0, started_at=NOW, now=NOW,
                     health=(False, "probe failed: cannot reach http://127.0.0.1:9/v1")),
        instances=1, capacity=1, in_flight=0,
    )  # fmt: skip
    print_agents([live("alpha")], as_json=False, unhealthy=[sick])
    out = capsys.readouterr().out
    assert "alpha" in out
    assert "unhealthy, not seated: bravo: probe failed: cannot reach http://127.0.0.1:9/v1" in out
    print_agents([live("alpha")], as_json=True, unhealthy=[sick])
    listed = capsys.readouterr().out
    assert '"agent_id":"bravo"' in listed
    assert '"healthy":false' in listed
