"""The quality study's team: pinned, chosen from the pool, checked before the study runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from services._runtime.errors import ConfigError
from services.bench.quality import check_team, default_team

POOL = """
[[agents]]
id = "{id}"
model = "{id}"
family = "{family}"
backend = "sim"
[agents.sim]
p_g = {p_g}
"""


def pool(tmp_path: Path, *agents: tuple[str, str, float]) -> Path:
    path = tmp_path / "pool.toml"
    path.write_text("".join(POOL.format(id=i, family=f, p_g=p) for i, f, p in agents))
    return path


def test_the_default_team_is_the_best_p_g_with_one_seat_per_family(tmp_path: Path) -> None:
    path = pool(
        tmp_path,
        ("a-small", "a", 0.5),
        ("a-large", "a", 0.7),
        ("b", "b", 0.6),
        ("c", "c", 0.4),
        ("d", "d", 0.45),
    )
    assert default_team(3, path) == ("a-large", "b", "d")


def test_the_default_team_needs_enough_families(tmp_path: Path) -> None:
    path = pool(tmp_path, ("a1", "a", 0.5), ("a2", "a", 0.6), ("b", "b", 0.6))
    with pytest.raises(ConfigError, match="2 simulated families, fewer than 3"):
        default_team(3, path)


def test_a_pinned_team_must_name_distinct_simulated_agents(tmp_path: Path) -> None:
    path = pool(tmp_path, ("a", "a", 0.5), ("b", "b", 0.6))
    check_team(("a", "b"), path)
    with pytest.raises(ConfigError, match=r"not a simulated agent of pool\.toml: zed"):
        check_team(("a", "zed"), path)
    with pytest.raises(ConfigError, match="two or more distinct agents"):
        check_team(("a", "a"), path)
