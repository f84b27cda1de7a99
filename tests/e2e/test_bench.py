"""``nsed bench quality`` runs end to end and prints the keys of its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT


@pytest.mark.timeout(180)
def test_bench_quality_reports_accuracy_by_round_baselines_and_the_fit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "quality", "--tasks", "12",
         "--rounds", "3", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
        env={**os.environ, "NSED_HOME": str(tmp_path)},
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
    rows = {row["strategy"]: row for row in report["strategies"]}
    assert set(rows) >= {"nsed", "best_single", "majority", "majority_equal_tokens",
                         "self_moa_equal_tokens", "moa", "debate"}  # fmt: skip
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["tokens_per_task"] > 0
        assert row["calls_per_task"] >= 1
    # the equal-cost baselines buy as many one-call samples as nsed's tokens pay for
    samples = report["equal_token_samples"]
    assert rows["majority_equal_tokens"]["calls_per_task"] == samples
    assert rows["self_moa_equal_tokens"]["calls_per_task"] == samples
    per_call = rows["majority"]["tokens_per_task"] / 3
    assert abs(samples * per_call - rows["nsed"]["tokens_per_task"]) <= per_call / 2 + 1 or (
        samples == 3
    )
    assert rows["best_single"]["calls_per_task"] == 1
    assert rows["moa"]["calls_per_task"] == 7  # two layers of three and the aggregator
    assert report["halted"]["accuracy"] == rows["nsed"]["accuracy"]
    plot = Path(report["plot"])
    assert plot.parent == tmp_path / "bench"
    assert plot.read_text().startswith("<svg")
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
