"""``nsed bench overhead``: what the orchestration adds to a round, against its floor.

A round's critical path is 6 sequential JetStream hops, the design's own: broker → runner
(propose) → reviewer → runner (review) → voter (it validates the last review and tallies
in one step) → gate → broker. The suite runs sequential tasks (simulated agents at zero
latency, a team of 5, several rounds each) on a stack of processes, and takes each round's
duration as the gate measures it (rounds ≥ 2: each one is a full continue → dispatch → … →
close cycle). In the same run, on the same server, it times the floor: a message relayed
through as many (6) sequential publish → pull-consume hops by trivial relays (publish with
acknowledgement, fetch one, ack). The ratio of the two p50s is what the pipeline costs
over the messaging it cannot avoid.

Both windows are profiled (``services/bench/cpu.py``): the CPU each process used per round
and per floor traversal. With every process on a few shared cores, a round cannot be
shorter than the CPU on its critical path, and that is what bounds the ratio. The server's
own counters (``streams.py``) give the round's stream messages, record writes and
deliveries. Then, on a stack of its own, rounds at a realistic model latency give
``latency_share`` (``latency.py``): how much of a round is not its slowest calls.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from schemas.task import Policy
from services.bench import bounds, driver, latency, streams
from services.bench.cpu import CpuMeter, profile
from services.bench.harness import DEFAULT_POOL, ProcessBench, process_stack
from services.bench.report import machine

HOPS = 6  # the critical path above: the floor is the design's own, not an ideal
FLOOR_STREAM = "NSED_BENCH_FLOOR"


async def floor(nc: Client, hops: int = HOPS, repeats: int = 200) -> list[float]:
    """Milliseconds for one message through ``hops`` sequential publish → consume hops."""
    js = nc.jetstream(timeout=5.0)
    await js.add_stream(
        StreamConfig(
            name=FLOOR_STREAM,
            subjects=["bench.floor.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
        )
    )
    subs = []
    for i in range(hops + 1):
        await js.add_consumer(
            FLOOR_STREAM,
            ConsumerConfig(
                durable_name=f"hop{i}",
                filter_subject=f"bench.floor.{i}",
                ack_policy=AckPolicy.EXPLICIT,
            ),
        )
        subs.append(await js.pull_subscribe_bind(durable=f"hop{i}", stream=FLOOR_STREAM))
    stop = asyncio.Event()

    async def relay(i: int) -> None:
        while not stop.is_set():
            try:
                [msg] = await subs[i].fetch(1, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            await js.publish(f"bench.floor.{i + 1}", msg.data)
            await msg.ack()

    relays = [asyncio.create_task(relay(i)) for i in range(hops)]
    times = []
    try:
        for n in range(repeats):
            started = time.perf_counter()
            await js.publish("bench.floor.0", str(n).encode())
            [done] = await subs[hops].fetch(1, timeout=10.0)
            await done.ack()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        stop.set()
        await asyncio.gather(*relays, return_exceptions=True)
        await js.delete_stream(FLOOR_STREAM)
    return times


async def _rounds(bench: ProcessBench, tasks: int, policy: Policy) -> dict[str, Any]:
    """Run ``tasks`` sequential tasks; their round times, CPU profile and message count."""
    collector, sub = await driver.listen(bench.nc)
    durations: list[float] = []
    rounds_run = 0
    meter = CpuMeter.of(bench.pids())
    before = await streams.read(bench.nc, skip=(FLOOR_STREAM,))
    meter.start()
    started = time.perf_counter()
    for i in range(tasks):
        await driver.submit(bench.nc, driver.task(f"overhead-{i}", policy))
        result = await collector.wait(f"overhead-{i}", timeout=120)
        if result is None:
            raise RuntimeError(f"overhead-{i} got no result")
        durations += [s.duration_s * 1000 for s in result.summaries[1:]]
        rounds_run += result.rounds
    used = meter.stop()
    cpu = profile(used, rounds_run, time.perf_counter() - started, meter.machine_s)
    await sub.unsubscribe()
    after = await streams.read(bench.nc, skip=(FLOOR_STREAM,))
    return {
        "durations": durations,
        "cpu": cpu,
        "counts": streams.per_round(before, after, rounds_run),
    }


async def run(
    tasks: int = 20,
    rounds: int = 4,
    team: int = 5,
    latency_median_s: float = 2.0,
    latency_tasks: int = 6,
) -> dict[str, Any]:
    """The zero-latency rounds against the floor, then (``latency_tasks`` > 0) rounds at a
    model latency of median ``latency_median_s`` on a stack of their own."""
    env = {"NSED_AGENT_RUNNER_LATENCY_SCALE": "0"}
    policy = Policy(team_size=team, min_rounds=rounds, max_rounds=rounds, deadline_s=300)
    async with process_stack(DEFAULT_POOL, env=env) as bench:
        pipeline = await _rounds(bench, tasks, policy)
        meter = CpuMeter.of({"nats-server": bench.pids()["nats-server"]})
        meter.start()
        started = time.perf_counter()
        hop_times = await floor(bench.nc)
        relay = profile(
            meter.stop(), len(hop_times), time.perf_counter() - started, meter.machine_s
        )
    durations = pipeline["durations"]
    round_p50 = statistics.median(durations)
    floor_p50 = statistics.median(hop_times)
    cpu = pipeline["cpu"]
    # What a round's message hops alone would cost at the floor's CPU per hop, spread over
    # every core: a round time no service code could beat on this machine. Conservative:
    # record writes (KV_* streams, publish without a consumer) are left out.
    cpu_per_hop = relay["cpu_ms_per_round_total"] / HOPS
    counts = pipeline["counts"]
    messages = counts["stream_messages_per_round"]
    messaging_ms = messages * cpu_per_hop / cpu["cpu_cores"]
    report: dict[str, Any] = {
        "suite": "overhead",
        "round_ms_p50": round(round_p50, 2),
        "round_ms_p95": round(sorted(durations)[int(0.95 * (len(durations) - 1))], 2),
        "floor_ms_p50": round(floor_p50, 3),
        "ratio_to_floor": round(round_p50 / floor_p50, 2),
        "hops_per_round": HOPS,
        "team_size": team,
        "rounds_measured": len(durations),
        # The profile: CPU per round by process (every round of the window, round 1's
        # team selection included), and the messages a round publishes.
        "cpu": cpu,
        "cpu_bound_round_ms": round(cpu["cpu_ms_per_round_total"] / cpu["cpu_cores"], 2),
        "hops_per_round_measured": round(messages, 1),
        **counts,
        "floor_cpu_ms_per_hop": round(cpu_per_hop, 3),
        "messaging_bound_round_ms": round(messaging_ms, 2),
        "messaging_bound_ratio": round(messaging_ms / floor_p50, 2),
        "machine": machine(),
    }
    report["bound"] = bounds.overhead(report).as_dict()
    if latency_tasks > 0:
        at_latency = await latency.run(latency_median_s, latency_tasks, team=team)
        at_latency["bound"] = bounds.latency(at_latency).as_dict()
        report["latency_share"] = at_latency["latency_share"]
        report["at_latency"] = at_latency
    return report
