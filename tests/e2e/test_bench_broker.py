"""``nsed bench broker`` prints its keys and every size is solved."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import ROOT


def test_bench_broker_reports_solve_times_for_every_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "broker", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["suite"] == "broker"
    assert [r["candidates"] for r in report["results"]] == [10, 100, 1000, 5000]
    for row in report["results"]:
        assert row["p50_ms"] <= row["p95_ms"]
        assert row["status"] in ("OPTIMAL", "FEASIBLE")
