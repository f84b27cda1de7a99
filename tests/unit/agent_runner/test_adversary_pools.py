"""The shipped adversary pools are the default team of four with one agent turned adversary,
nothing else changed, and the control pool the same team with that agent reviewing at
chance: the quality bench on them and on sim.toml compares the same seats."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from services.agent_runner.config import load_pool
from services.bench.quality import default_team

AGENTS = Path(__file__).resolve().parents[3] / "infra" / "agents"
ADVERSARY = "mistral-small-24b"


@pytest.mark.parametrize(
    ("file", "kind"),
    [("sim-adversary-self-promote.toml", "self_promote"), ("sim-adversary-inject.toml", "inject")],
)
def test_an_adversary_pool_is_the_default_team_with_one_agent_turned(file: str, kind: str) -> None:
    clean = {a.id: a for a in load_pool(AGENTS / "sim.toml").agents}
    pool = load_pool(AGENTS / file)
    team = default_team(4, AGENTS / "sim.toml")
    assert default_team(4, AGENTS / file) == team
    assert tuple(sorted(a.id for a in pool.agents)) == tuple(sorted(team))
    for agent in pool.agents:
        assert agent.sim is not None
        expected = clean[agent.id]
        if agent.id == ADVERSARY:
            assert agent.sim.adversary == kind
            assert expected.sim is not None
            expected = msgspec.structs.replace(
                expected, sim=msgspec.structs.replace(expected.sim, adversary=kind)
            )
        assert agent == expected


def test_the_control_pool_is_the_default_team_with_one_reviewer_at_chance() -> None:
    clean = {a.id: a for a in load_pool(AGENTS / "sim.toml").agents}
    pool = load_pool(AGENTS / "sim-chance-reviewer.toml")
    assert default_team(4, AGENTS / "sim-chance-reviewer.toml") == default_team(
        4, AGENTS / "sim.toml"
    )
    for agent in pool.agents:
        expected = clean[agent.id]
        if agent.id == ADVERSARY:
            assert expected.sim is not None
            expected = msgspec.structs.replace(
                expected, sim=msgspec.structs.replace(expected.sim, p_v=0.5)
            )
        assert agent == expected


def test_the_pool_without_the_adversary_is_the_adversary_pools_other_members() -> None:
    clean = {a.id: a for a in load_pool(AGENTS / "sim.toml").agents}
    pool = load_pool(AGENTS / "sim-without-adversary.toml")
    others = tuple(a for a in default_team(4, AGENTS / "sim.toml") if a != ADVERSARY)
    assert tuple(sorted(a.id for a in pool.agents)) == tuple(sorted(others))
    assert default_team(3, AGENTS / "sim-without-adversary.toml") == others
    for agent in pool.agents:
        assert agent == clean[agent.id]
