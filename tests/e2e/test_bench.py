"""``nsed bench quality`` runs end to end and prints the keys of its report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT


@pytest.mark.timeout(180)
def test_bench_quality_reports_accuracy_by_round_baselines_and_the_fit() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "quality", "--tasks", "12",
         "--rounds", "3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["suite"] == "quality"
    assert report["tasks"] == 12
    assert report["simulated"] is True
    # Pinned for the whole run: the three best simulated p_g of the pool, one per family.
    assert report["team"] == ["gpt-oss-20b", "gemma-3-12b", "qwen3-8b"]
    assert [row["round"] for row in report["per_round"]] == [1, 2, 3]
    for row in report["per_round"]:
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["prompt_tokens_per_call"] > 0
    assert set(report["baselines"]) == {"majority", "best_single", "self_moa"}
    assert set(report["fit"]) >= {"lambda", "beta", "r2", "t_opt", "beta_identified", "note"}
    assert report["fit"]["beta_identified"] or report["fit"]["note"]
    assert report["cost_usd"] > 0
    first, last = report["per_round"][0], report["per_round"][-1]
    assert last["prompt_tokens_per_call"] <= first["prompt_tokens_per_call"] + 2048 + 512


def test_bench_quality_refuses_an_unknown_team_member_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "quality", "--tasks", "3",
         "--team", "gpt-oss-20b,nope"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "not a simulated agent of sim.toml: nope" in lines[0]
