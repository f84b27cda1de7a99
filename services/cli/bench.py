"""``nsed bench``: the benchmark suites, each on a private stack it starts itself (``quality``
runs the services in memory)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec

from services.cli.client import run_async


@click.group()
def bench() -> None:
    """Benchmarks; each starts a private stack of its own (quality runs in memory) and reports
    JSON with --json."""


@bench.command("quality")
@click.option("--tasks", type=click.IntRange(1, 500), default=200, show_default=True)
@click.option("--team-size", type=click.IntRange(2, 5), default=3, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 12), default=6, show_default=True)
@click.option(
    "--team",
    default="",
    metavar="ID,ID,...",
    help="Pin these agents (default: the --team-size best by simulated p_g, one per family).",
)
@click.option(
    "--pool",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A pool file of simulated agents (default: infra/agents/sim.toml).",
)
@click.option("--json", "as_json", is_flag=True)
def bench_quality(
    tasks: int, team_size: int, rounds: int, team: str, pool: Path | None, as_json: bool
) -> None:
    """Every protocol on one pinned simulated team, on GSM8K, at measured token cost."""
    from services.bench import quality, report
    from services.bench.harness import DEFAULT_POOL

    pinned = tuple(agent_id.strip() for agent_id in team.split(",") if agent_id.strip())
    progress = report.Progress(tasks, enabled=not as_json)
    study = quality.run(
        tasks, team_size, rounds, on_result=progress.update, team=pinned, pool=pool or DEFAULT_POOL
    )
    result = run_async(study)
    progress.close()
    report.emit(msgspec.to_builtins(result), as_json)


@bench.command("broker")
@click.option("--json", "as_json", is_flag=True)
def bench_broker(as_json: bool) -> None:
    """CP-SAT team-selection time (p50/p95) at 10, 100, 1000 and 5000 candidates."""
    from services.bench import broker, report

    report.emit(broker.run(), as_json)


@bench.command("overhead")
@click.option("--tasks", type=click.IntRange(2, 500), default=20, show_default=True)
@click.option(
    "--latency-median",
    type=click.FloatRange(0.01, 60.0),
    default=2.0,
    show_default=True,
    help="Median seconds a call of the model-latency run takes.",
)
@click.option(
    "--latency-tasks",
    type=click.IntRange(0, 8),
    default=6,
    show_default=True,
    help="Concurrent tasks of that run (0: no run at a model latency).",
)
@click.option("--json", "as_json", is_flag=True)
def bench_overhead(tasks: int, latency_median: float, latency_tasks: int, as_json: bool) -> None:
    """Time per round (team 5, zero-latency agents) against the 6-hop JetStream floor (a
    round's critical path), then latency_share: how much of a round at a model latency is
    not its slowest calls."""
    from services.bench import overhead, report

    run = overhead.run(tasks=tasks, latency_median_s=latency_median, latency_tasks=latency_tasks)
    report.emit(run_async(run), as_json)


@bench.command("throughput")
@click.option("--tasks", type=click.IntRange(1, 5000), default=300, show_default=True)
@click.option("--in-flight", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_throughput(tasks: int, in_flight: int, as_json: bool) -> None:
    """Rounds per second with many concurrent tasks (team 3, zero-latency agents)."""
    from services.bench import report, throughput

    report.emit(run_async(throughput.run(tasks=tasks, in_flight=in_flight)), as_json)


@bench.command("scaling")
@click.option("--tasks", type=click.IntRange(1, 1000), default=48, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_scaling(tasks: int, as_json: bool) -> None:
    """Speed-up from 1 to 4 runner replicas per agent (200 ms latency, concurrency 2)."""
    from services.bench import report, scaling

    report.emit(run_async(scaling.run(tasks=tasks)), as_json)


@bench.command("context")
@click.option("--tasks", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_context(tasks: int, as_json: bool) -> None:
    """Prompt tokens per call by round: NSED against a full-history prompt."""
    from services.bench import context, report

    report.emit(run_async(context.run(tasks=tasks)), as_json)


@bench.command("chaos")
@click.option("--tasks", type=click.IntRange(1, 5000), default=300, show_default=True)
@click.option(
    "--cluster",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="NATS nodes: 3 runs a local cluster and kills one of its nodes.",
)
@click.option(
    "--every",
    "every_s",
    type=click.FloatRange(0.5, 60),
    default=3.0,
    show_default=True,
    help="Seconds between kills (on average).",
)
@click.option("--in-flight", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--seed", type=int, default=None, help="The monkey's seed (default: random).")
@click.option("--json", "as_json", is_flag=True)
def bench_chaos(
    tasks: int, cluster: str, every_s: float, in_flight: int, seed: int | None, as_json: bool
) -> None:
    """kill -9 a random service or runner every few seconds, and NATS once: lost, duplicated
    and stuck tasks must be 0. Exit 1 if any is not."""
    from services.bench import chaos, report

    result = run_async(
        chaos.run(tasks, cluster=int(cluster), every_s=every_s, in_flight=in_flight, seed=seed)
    )
    if as_json:
        report.emit(result, True)
    else:
        print(chaos.table(result), end="")
    sys.exit(1 if result["lost"] or result["duplicates"] or result["stuck"] else 0)


@bench.command("backpressure")
@click.option("--tasks", type=click.IntRange(1, 20000), default=2000, show_default=True)
@click.option("--latency", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_backpressure(tasks: int, latency: float, concurrency: int, as_json: bool) -> None:
    """Queue --tasks at once against 3 slow simulated agents (--latency s a call,
    --concurrency calls at a time): peak memory per process, the queues, and the rate of
    results against the agents' rate. Exit 1 if a task was lost, duplicated or stuck."""
    from services.bench import backpressure, report

    result = run_async(backpressure.run(tasks, latency_s=latency, concurrency=concurrency))
    if as_json:
        report.emit(result, True)
    else:
        print(backpressure.table(result), end="")
    sys.exit(1 if result["lost"] or result["duplicates"] or result["stuck"] else 0)


@bench.command("all")
def bench_all() -> None:
    """Every suite, then one Markdown table (what `make bench` runs)."""
    from services.bench import suite

    reports = run_async(suite.run_all())
    path = suite.save(reports)
    print(suite.table(reports))
    print(f"saved: {path} (and .json)", file=sys.stderr)


@bench.command("map")
@click.option("--tasks", type=click.IntRange(10, 500), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def bench_map(tasks: int, as_json: bool) -> None:
    """Where deliberation pays: nsed against equal-cost majority over a (p_g, p_v) grid."""
    from services.bench import qmap, report

    result = run_async(qmap.run(tasks=tasks))
    if as_json:
        report.emit(result, True)
    else:
        print(result["table"])
