"""``make bench``: every suite in one run, summarised as one Markdown table.

Writes ``$NSED_HOME/bench/bench-<timestamp>.json`` (every report) and ``…md`` (the table,
with the machine and the date) and prints the table. Each figure is a ratio or a rate
measured within its suite's run; the machine is shared, so repeat to see the spread.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import msgspec

from services.bench import bounds, broker, context, overhead, quality, scaling, throughput

TARGETS = {
    "overhead": "round ≤ 3× the 6-hop floor",
    "latency": "≤ 2 % of a round not its slowest calls",
    "throughput": "≥ 100 rounds/s, 0 lost, 0 duplicates",
    "scaling": "4 replicas ≥ 3.2× one",
    "context": "≥ 3× smaller than full history at round 6",
    "broker": "p50 ≤ 20 ms at 100, ≤ 150 ms at 1 000",
    "quality": "reported at equal cost (simulated agents)",
}


async def run_all() -> dict[str, Any]:
    return {
        "overhead": await overhead.run(),
        "throughput": await throughput.run(),
        "scaling": await scaling.run(),
        "context": await context.run(),
        "broker": broker.run(),
        "quality": await quality_suite(),
    }


async def quality_suite(tasks: int = 200) -> dict[str, Any]:
    """The quality study as plain data, like every other suite's report (its own report is
    typed: ``quality_report.QualityReport``)."""
    report = await quality.run(tasks, on_result=lambda _: None)
    plain: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(report))
    return plain


def table(reports: dict[str, Any]) -> str:
    o, t, s, c, b, q = (reports[k] for k in ("overhead", "throughput", "scaling", "context",
                                              "broker", "quality"))  # fmt: skip
    by_size = {r["candidates"]: r for r in b["results"]}
    rows = [
        ("overhead", f"round p50 {o['round_ms_p50']} ms · floor {o['floor_ms_p50']} ms "
                     f"· **{o['ratio_to_floor']}×** · {o['stream_messages_per_round']} "
                     f"messages, {o['record_writes_per_round']} record writes a round"),
        ("throughput", f"**{t['rounds_per_s']} rounds/s** · {t['tasks_per_s']} tasks/s · "
                       f"lost {t['lost']} · duplicates {t['duplicates']}"),
        ("scaling", f"**{s['speedup_4x']}×** ({s['elapsed_1x_s']} s → {s['elapsed_4x_s']} s)"),
        ("context", f"round 6: NSED {c['per_round'][-1]['nsed']} vs full history "
                    f"{c['per_round'][-1]['full_history']} tokens · **{c['ratio_round6']}×**"),
        ("broker", f"p50 **{by_size[100]['p50_ms']} ms** at 100 · "
                   f"**{by_size[1000]['p50_ms']} ms** at 1 000 · {by_size[5000]['p50_ms']} ms "
                   "at 5 000"),
        ("quality", quality_line(q)),
    ]  # fmt: skip
    latency = o.get("at_latency")
    if latency is not None:
        rows.insert(1, ("latency", f"median call {latency['call_latency_s_p50']} s · round p50 "
                                   f"{latency['round_s_p50']} s · slowest calls "
                                   f"{latency['model_path_s_p50']} s · **latency_share "
                                   f"{latency['latency_share']}**"))  # fmt: skip
    reports = {**reports, "latency": latency or {}}
    machine = o["machine"]
    head = (
        f"Measured {datetime.date.today().isoformat()} on {machine['cpus']} CPUs, "
        f"{machine['platform']}, Python {machine['python']} (`make bench`).\n\n"
        "| suite | measured | bounded by | target |\n|---|---|---|---|\n"
    )
    body = "".join(
        f"| {name} | {text} | {bound_of(name, reports[name]).text()} | {TARGETS[name]} |\n"
        for name, text in rows
    )
    floor_note = (
        f"\nOverhead bounds: the round's CPU spread over {o['cpu']['cpu_cores']} cores is "
        f"{o['cpu_bound_round_ms']} ms (measured p50 {o['round_ms_p50']} ms); its "
        f"{o['hops_per_round_measured']} message hops alone, at the floor's "
        f"{o['floor_cpu_ms_per_hop']} ms of CPU per hop, take {o['messaging_bound_round_ms']} ms"
        f" = **{o['messaging_bound_ratio']}×** the floor.\n"
    )
    return head + body + "\n" + cpu_table({"overhead": o, "throughput": t}) + floor_note


def bound_of(name: str, report: dict[str, Any]) -> bounds.Bound:
    """What bounds a suite's figure: the one its report carries, else worked out from it."""
    if "bound" in report:
        return bounds.Bound(**report["bound"])
    return bounds.ALL[name](report)


def quality_line(q: dict[str, Any]) -> str:
    """Each strategy's accuracy at its tokens per task, nsed first."""
    rows = {row["strategy"]: row for row in q["strategies"]}
    order = ("nsed", "majority_equal_tokens", "self_moa_equal_tokens", "debate", "moa",
             "majority", "best_single")  # fmt: skip
    parts = [
        f"{name} {rows[name]['accuracy']} ({rows[name]['tokens_per_task'] / 1000:.1f}k tok)"
        for name in order
        if name in rows
    ]
    return " · ".join(parts)


def cpu_table(reports: dict[str, Any]) -> str:
    """The profile of the CPU-bound suites: CPU per round, by process."""
    out = (
        "| CPU per round | total | cores busy (ours · other jobs) | by process |\n"
        "|---|---|---|---|\n"
    )
    for name, report in reports.items():
        cpu = report["cpu"]
        parts = " · ".join(f"{proc} {ms}" for proc, ms in cpu["cpu_ms_per_round"].items())
        others = round(cpu.get("others_busy", 0.0) * 100)
        out += (
            f"| {name} | {cpu['cpu_ms_per_round_total']} ms | "
            f"{round(cpu['cpu_busy'] * 100)} % · {others} % of {cpu['cpu_cores']} | {parts} |\n"
        )
    return out


def save(reports: dict[str, Any], home: str | None = None) -> Path:
    folder = Path(home or os.environ.get("NSED_HOME", ".nsed")) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (folder / f"bench-{stamp}.json").write_text(json.dumps(reports, indent=2))
    path = folder / f"bench-{stamp}.md"
    path.write_text(table(reports))
    return path
