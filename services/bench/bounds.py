"""What bounds each benchmark figure, measured in the same run: the CPU, the messaging
floor, the model, or the design. Pure: a suite's report in, a ``Bound`` out.

A bound is the best the figure could be if that one thing were all there is: a round
cannot be shorter than its CPU spread over every core, nor than its message hops at the
floor's CPU per hop, nor than its slowest calls; throughput cannot pass the cores divided
by a round's CPU. ``used`` says how close the figure came to its bound (1.0: at it, the
bound has to move for the figure to move; lower: the gap is waiting, which work on the
pipeline can still remove). On a shared machine other jobs' CPU (``others_busy``) takes
from the cores, and the bound says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["CPU", "messaging floor", "model", "design"]
AT_BOUND = 0.8  # a figure within 80 % of its bound is at it, on a machine this noisy


@dataclass(frozen=True)
class Bound:
    by: Kind
    limit: str  # the bound, in the figure's unit
    used: float | None  # the figure as a share of its bound; None: not a rate or a time
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return f"{self.by}: {self.limit} · {self.note}"


def _others(cpu: dict[str, Any]) -> str:
    others = cpu.get("others_busy", 0.0)
    return f"; other jobs took {round(others * 100)} % of the cores" if others >= 0.05 else ""


def overhead(report: dict[str, Any]) -> Bound:
    """A round at zero model latency: its CPU spread over the cores, or its messages."""
    cpu = report["cpu"]
    round_ms = report["round_ms_p50"]
    by: Kind
    by, limit = "CPU", report["cpu_bound_round_ms"]
    if report["messaging_bound_round_ms"] > limit:
        by, limit = "messaging floor", report["messaging_bound_round_ms"]
    used = limit / round_ms if round_ms > 0 else 0.0
    hops = report["messaging_bound_ratio"]
    note = (
        f"the round takes {round(round_ms / limit, 1) if limit > 0 else 'inf'}× it; its "
        f"{report['hops_per_round_measured']} messages alone take {hops}× the floor"
    )
    if hops >= 3:
        note += " (the 3× target needs fewer messages)"
    if used < AT_BOUND:
        note += "; the rest is hops in sequence and scheduling" + _others(cpu)
    return Bound(by=by, limit=f"{limit} ms", used=round(used, 2), note=note)


def throughput(report: dict[str, Any]) -> Bound:
    """Rounds per second: the cores other jobs left, over a round's CPU."""
    cpu = report["cpu"]
    per_round = cpu["cpu_ms_per_round_total"]
    idle_machine = 1000 * cpu["cpu_cores"] / per_round if per_round > 0 else 0.0
    others = cpu.get("others_busy", 0.0)
    ceiling = idle_machine * (1 - others)
    used = report["rounds_per_s"] / ceiling if ceiling > 0 else 0.0
    note = (
        f"reached {round(used * 100)} % of it; {per_round} ms of CPU a round, "
        f"{round(idle_machine, 1)} rounds/s on idle cores"
    )
    note += _others(cpu)
    if used < AT_BOUND:
        note += "; the cores were not saturated: waits bound it"
    return Bound(by="CPU", limit=f"{round(ceiling, 1)} rounds/s", used=round(used, 2), note=note)


def latency(report: dict[str, Any]) -> Bound:
    """A round at a model latency: its slowest proposal, then its slowest review."""
    share = report["latency_share"]
    note = (
        f"the slowest calls are {round((1 - share) * 100, 1)} % of a round "
        f"(median call {report['call_latency_s_p50']} s)"
    )
    return Bound(
        by="model",
        limit=f"{report['model_path_s_p50']} s a round",
        used=round(1 - share, 3),
        note=note,
    )


def scaling(report: dict[str, Any]) -> Bound:
    """Replicas' wall time: the agents' calls over their slots (fixed latency)."""
    ideal = report["ideal_1x_s"] / 4
    used = ideal / report["elapsed_4x_s"] if report["elapsed_4x_s"] > 0 else 0.0
    return Bound(
        by="model",
        limit=f"{round(ideal, 2)} s with 4 replicas",
        used=round(used, 2),
        note=f"reached {round(used * 100)} % of it (calls × latency ÷ slots); the speed-up "
        "cannot pass 4",
    )


def context(report: dict[str, Any]) -> Bound:
    return Bound(
        by="design",
        limit="state ≤ 2048 + critiques ≤ 512 tokens",
        used=None,
        note="the policy's token budgets, whatever the machine",
    )


def broker(report: dict[str, Any]) -> Bound:
    return Bound(by="CPU", limit="one core", used=None, note="the CP-SAT solve, one worker")


def quality(report: dict[str, Any]) -> Bound:
    return Bound(
        by="model",
        limit="the agents' precision",
        used=None,
        note="simulated p_g and p_v, not the machine",
    )


ALL = {
    "overhead": overhead,
    "latency": latency,
    "throughput": throughput,
    "scaling": scaling,
    "context": context,
    "broker": broker,
    "quality": quality,
}
