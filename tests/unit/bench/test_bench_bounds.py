"""What bounds each ``make bench`` figure (``services/bench/bounds.py``), the round's message
and record-write counts from the server's counters (``streams.py``), and the table that
prints a bound beside every figure (``suite.table``)."""

from __future__ import annotations

from typing import Any

import pytest

from services.bench import bounds, streams, suite


def _overhead(**over: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "round_ms_p50": 40.0, "floor_ms_p50": 2.0, "ratio_to_floor": 20.0,
        "cpu_bound_round_ms": 20.0, "messaging_bound_round_ms": 6.0,
        "messaging_bound_ratio": 3.0, "hops_per_round_measured": 29.8,
        "stream_messages_per_round": 29.8, "record_writes_per_round": 6.2,
        "floor_cpu_ms_per_hop": 0.4,
        "cpu": {"cpu_ms_per_round": {"runners": 20.0, "nats-server": 20.0},
                "cpu_ms_per_round_total": 40.0, "cpu_busy": 0.4, "cpu_cores": 2,
                "others_busy": 0.5},
        "machine": {"cpus": 2, "platform": "Linux", "python": "3.11"},
    }  # fmt: skip
    return {**report, **over}


def test_a_round_is_bounded_by_the_larger_of_its_cpu_and_its_messages() -> None:
    cpu = bounds.overhead(_overhead())
    assert (cpu.by, cpu.limit, cpu.used) == ("CPU", "20.0 ms", 0.5)
    assert "fewer messages" in cpu.note  # the messages alone take the whole 3× target
    assert "other jobs took 50 %" in cpu.note
    floor = bounds.overhead(_overhead(messaging_bound_round_ms=30.0, messaging_bound_ratio=1.5))
    assert (floor.by, floor.limit, floor.used) == ("messaging floor", "30.0 ms", 0.75)
    assert "fewer messages" not in floor.note


def test_throughput_is_bounded_by_the_cores_other_jobs_left() -> None:
    report = {"rounds_per_s": 45.0, "cpu": {"cpu_ms_per_round_total": 20.0, "cpu_busy": 0.45,
                                            "cpu_cores": 2, "others_busy": 0.5}}  # fmt: skip
    bound = bounds.throughput(report)
    # 2 cores / 20 ms = 100 rounds/s idle; half the cores were others': 50
    assert (bound.by, bound.limit, bound.used) == ("CPU", "50.0 rounds/s", 0.9)
    assert "100.0 rounds/s on idle cores" in bound.note
    idle = bounds.throughput({**report, "rounds_per_s": 20.0})
    assert idle.used == 0.4
    assert "waits bound it" in idle.note


def test_a_round_at_a_model_latency_is_bounded_by_its_slowest_calls() -> None:
    bound = bounds.latency({"latency_share": 0.012, "model_path_s_p50": 7.08,
                            "call_latency_s_p50": 2.1})  # fmt: skip
    assert (bound.by, bound.limit, bound.used) == ("model", "7.08 s a round", 0.988)
    assert "98.8 % of a round" in bound.text()


def test_the_rounds_counts_are_the_servers_counters_over_the_rounds() -> None:
    before = streams.Counters(
        stored={"NSED_EVENTS": 100, "NSED_WORK": 50, "KV_nsed_deliberations": 10},
        delivered={"agent runners": 40, "voter-reviews": 5},
    )
    after = streams.Counters(
        stored={"NSED_EVENTS": 168, "NSED_WORK": 90, "KV_nsed_deliberations": 35,
                "KV_nsed_agents": 2, "NSED_TIMERS": 9},
        delivered={"agent runners": 80, "voter-reviews": 25, "gate-tallies": 4},
    )  # fmt: skip
    counts = streams.per_round(before, after, rounds=4)
    assert counts["messages_per_round_by_stream"] == {
        "KV_nsed_agents": 0.5, "KV_nsed_deliberations": 6.2, "NSED_EVENTS": 17.0,
        "NSED_TIMERS": 2.2, "NSED_WORK": 10.0,
    }  # fmt: skip
    assert counts["stream_messages_per_round"] == 29.2  # 117 stream messages / 4, KV apart
    assert counts["record_writes_per_round"] == 6.2
    assert counts["kv_writes_per_round"] == 6.8
    assert counts["deliveries_per_round_by_consumer"] == {
        "agent runners": 10.0, "gate-tallies": 1.0, "voter-reviews": 5.0}  # fmt: skip
    assert counts["deliveries_per_round"] == 16.0


def _reports() -> dict[str, Any]:
    overhead = _overhead(at_latency={
        "latency_share": 0.012, "model_path_s_p50": 7.08, "call_latency_s_p50": 2.1,
        "round_s_p50": 7.17})  # fmt: skip
    throughput = {"rounds_per_s": 45.0, "tasks_per_s": 15.0, "lost": 0, "duplicates": 0,
                  "cpu": {"cpu_ms_per_round": {"runners": 20.0}, "cpu_ms_per_round_total": 20.0,
                          "cpu_busy": 0.45, "cpu_cores": 2, "others_busy": 0.5}}  # fmt: skip
    return {
        "overhead": overhead,
        "throughput": throughput,
        "scaling": {
            "speedup_4x": 3.5,
            "elapsed_1x_s": 20.0,
            "elapsed_4x_s": 5.7,
            "ideal_1x_s": 19.2,
        },
        "context": {"per_round": [{"nsed": 300, "full_history": 4800}], "ratio_round6": 16.0},
        "broker": {"results": [{"candidates": n, "p50_ms": n / 10} for n in (100, 1000, 5000)]},
        "quality": {"strategies": [{"strategy": "nsed", "accuracy": 0.8, "tokens_per_task": 9e3}]},
    }


def test_the_bench_table_prints_what_bounds_each_figure_beside_it() -> None:
    text = suite.table(_reports())
    first = text[text.index("| suite |") :].split("\n\n")[0]  # the figures, not the CPU table
    rows = {line.split("|")[1].strip(): line for line in first.splitlines()}
    assert rows["suite"].split("|")[3].strip() == "bounded by"
    expected = {"overhead": "CPU: 20.0 ms", "latency": "model: 7.08 s a round",
                "throughput": "CPU: 50.0 rounds/s", "scaling": "model: 4.8 s with 4 replicas",
                "context": "design:", "broker": "CPU: one core",
                "quality": "model: the agents' precision"}  # fmt: skip
    for name, bound in expected.items():
        assert rows[name].split("|")[3].strip().startswith(bound), rows[name]
    assert "29.8 messages, 6.2 record writes a round" in rows["overhead"]
    assert "latency_share 0.012" in rows["latency"]


@pytest.mark.parametrize("name", sorted(bounds.ALL))
def test_every_bound_reads_as_one_line(name: str) -> None:
    reports = _reports()
    report = reports["overhead"]["at_latency"] if name == "latency" else reports[name]
    text = bounds.ALL[name](report).text()
    assert text
    assert "\n" not in text
