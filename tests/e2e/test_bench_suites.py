"""The performance suites (``nsed bench overhead|throughput|scaling|context``) run end to
end on small workloads and print their keys. Timing targets are the benchmark's business
(``make bench``), not these tests': they check the reports are whole and consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.processes import ROOT


def _bench(*args: str, timeout: float = 170) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", *args, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _check_profile(cpu: dict[str, Any], processes: set[str]) -> None:
    by_process = cpu["cpu_ms_per_round"]
    assert processes <= set(by_process)
    assert cpu["cpu_ms_per_round_total"] == pytest.approx(sum(by_process.values()), abs=0.1)
    assert by_process["nats-server"] > 0
    assert by_process["runners"] > 0
    assert 0 < cpu["cpu_busy"] <= 1.05


@pytest.mark.timeout(240)
def test_overhead_reports_round_time_floor_ratio_profile_and_latency_share() -> None:
    report = _bench("overhead", "--tasks", "3", "--latency-median", "0.3", "--latency-tasks", "2",
                    timeout=230)  # fmt: skip
    assert report["suite"] == "overhead"
    assert report["rounds_measured"] == 3 * 3  # rounds 2..4 of each task
    assert report["round_ms_p50"] > report["floor_ms_p50"] > 0
    assert report["ratio_to_floor"] == pytest.approx(
        report["round_ms_p50"] / report["floor_ms_p50"], rel=0.01
    )
    _check_profile(report["cpu"], {"broker", "reviewer", "voter", "gate", "runners"})
    # Per round, team 5: 5 propose + 5 review requests, 5 proposals, 5 reviews, a tally
    # and a continuation at least, on the message streams (no ballot messages: the voter
    # validates the reviews itself).
    by_stream = report["messages_per_round_by_stream"]
    assert by_stream["NSED_WORK"] == pytest.approx(10, abs=0.5)
    assert 12 <= by_stream["NSED_EVENTS"] < 17
    assert by_stream["KV_nsed_deliberations"] > 0  # record writes are counted apart
    assert report["hops_per_round_measured"] >= 22
    assert report["messaging_bound_round_ms"] == pytest.approx(
        report["hops_per_round_measured"]
        * report["floor_cpu_ms_per_hop"]
        / report["cpu"]["cpu_cores"],
        rel=0.02,
    )
    # The server's counters: stream messages and record writes apart, and deliveries.
    assert report["stream_messages_per_round"] == report["hops_per_round_measured"]
    assert report["record_writes_per_round"] == by_stream["KV_nsed_deliberations"]
    deliveries = report["deliveries_per_round_by_consumer"]
    assert deliveries["agent runners"] == pytest.approx(10, abs=0.5)
    assert deliveries["voter-reviews"] == pytest.approx(5, abs=0.5)
    assert "reviewer-reviews" not in deliveries
    assert "voter-ballots" not in deliveries
    assert report["bound"]["by"] in ("CPU", "messaging floor")
    # The run at a model latency: 2 tasks of 2 rounds, every call ~0.3 s × e^(σ·z).
    at_latency = report["at_latency"]
    assert report["latency_share"] == at_latency["latency_share"]
    assert at_latency["rounds"] == 4
    assert at_latency["calls"] == 4 * 10
    assert 0.1 < at_latency["call_latency_s_p50"] < 1.0
    assert at_latency["round_s_p50"] >= at_latency["model_path_s_p50"] > 0
    assert 0 <= at_latency["latency_share"] <= at_latency["latency_share_max"] < 1
    assert at_latency["bound"]["by"] == "model"


@pytest.mark.timeout(180)
def test_throughput_answers_every_task_exactly_once() -> None:
    report = _bench("throughput", "--tasks", "30", "--in-flight", "10")
    assert report["suite"] == "throughput"
    assert (report["tasks"], report["lost"], report["duplicates"]) == (30, 0, 0)
    assert report["rounds_per_s"] == pytest.approx(
        30 * report["rounds_per_task"] / report["elapsed_s"], rel=0.02
    )
    _check_profile(report["cpu"], {"broker", "reviewer", "voter", "gate", "runners"})


@pytest.mark.timeout(240)
def test_scaling_replicas_share_the_work() -> None:
    report = _bench("scaling", "--tasks", "8", timeout=230)
    assert report["suite"] == "scaling"
    # 8 tasks need 4 waves of a 2-slot runner, 1 wave of four: replicas must help.
    assert report["elapsed_4x_s"] < report["elapsed_1x_s"]
    assert report["speedup_4x"] > 1.0


@pytest.mark.timeout(180)
def test_context_compares_nsed_with_full_history_by_round() -> None:
    report = _bench("context", "--tasks", "3")
    assert report["suite"] == "context"
    rows = report["per_round"]
    assert [row["round"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["nsed"] == rows[0]["full_history"]  # round 1: nothing carried yet
    history = [row["full_history"] for row in rows]
    assert history == sorted(history)
    assert history[-1] > history[0]
    assert report["ratio_round6"] == pytest.approx(
        rows[-1]["full_history"] / rows[-1]["nsed"], rel=0.02
    )
