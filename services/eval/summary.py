"""An evaluation's summary (pure): per protocol, from the rows of its answered tasks.

Consumes ``Row`` s; emits the ``--json`` report ``{suite: "eval", dataset, results:
[{protocol, tasks, accuracy, tokens_per_task, seconds_per_task, cost_per_task,
valid_review_rate, answered_rate}]}``, a Markdown summary and the rows
``plot.render_accuracy_vs_tokens`` draws. Every per-task figure is a mean over the
protocol's answered tasks; the review rate is valid reviews over review seats asked, summed
over its tasks (null without review); the answered rate is the share of tasks whose result
has an extracted answer. A
protocol with no answered task has nulls for every figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.bench.plot import render_accuracy_vs_tokens
from services.eval.store import Row

JSON_KEYS = (
    "protocol",
    "tasks",
    "accuracy",
    "tokens_per_task",
    "seconds_per_task",
    "cost_per_task",
    "valid_review_rate",
    "answered_rate",
)

SIMULATED = (
    "**Simulated agents** answered these tasks: the figures measure the simulation, not a model."
)


@dataclass(frozen=True)
class ProtocolSummary:
    protocol: str
    tasks: int
    accuracy: float | None
    stderr: float | None
    tokens_per_task: float | None
    calls_per_task: float | None
    seconds_per_task: float | None
    cost_per_task: float | None
    valid_review_rate: float | None
    answered_rate: float | None
    rounds_per_task: float | None
    statuses: dict[str, int]

    def json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in JSON_KEYS}


def summarize(rows: Sequence[Row], protocol: str) -> ProtocolSummary:
    """``protocol`` over those of ``rows`` that are its own."""
    mine = [r for r in rows if r.protocol == protocol]
    n = len(mine)
    statuses: dict[str, int] = {}
    for r in mine:
        statuses[r.status] = statuses.get(r.status, 0) + 1

    def mean(values: Sequence[float], digits: int) -> float | None:
        return round(sum(values) / n, digits) if n else None

    accuracy = mean([float(r.correct) for r in mine], 4)
    seats = sum(r.review_seats for r in mine)
    return ProtocolSummary(
        protocol=protocol,
        tasks=n,
        accuracy=accuracy,
        stderr=(
            round(math.sqrt(accuracy * (1 - accuracy) / n), 4) if accuracy is not None else None
        ),
        tokens_per_task=mean([r.tokens for r in mine], 1),
        calls_per_task=mean([r.calls for r in mine], 2),
        seconds_per_task=mean([r.seconds for r in mine], 2),
        cost_per_task=mean([r.cost for r in mine], 8),
        valid_review_rate=(round(sum(r.valid_ballots for r in mine) / seats, 4) if seats else None),
        answered_rate=mean([float(r.extracted is not None) for r in mine], 4),
        rounds_per_task=mean([r.rounds for r in mine], 2),
        statuses=dict(sorted(statuses.items())),
    )


def summaries(rows: Sequence[Row], protocols: Sequence[str]) -> list[ProtocolSummary]:
    return [summarize(rows, p) for p in protocols]


def report(dataset: str, table: Sequence[ProtocolSummary]) -> dict[str, Any]:
    """Exactly what ``nsed eval --json`` prints."""
    return {"suite": "eval", "dataset": dataset, "results": [s.json() for s in table]}


def _cell(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def markdown(
    dataset: str,
    table: Sequence[ProtocolSummary],
    rows: Sequence[Row],
    settings: Sequence[str] = (),
) -> str:
    """The summary table, the settings lines given, and the teams the broker seated."""
    lines = [f"# nsed eval: {dataset}", ""]
    if settings:
        lines += [*(f"- {line}" for line in settings), ""]
    lines += [
        "| protocol | tasks | accuracy (± s.e.) | tokens / task | calls / task | rounds / task "
        "| seconds / task | USD / task | valid reviews | answered | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in table:
        accuracy = "—" if s.accuracy is None else f"{s.accuracy:.3f} ± {s.stderr or 0.0:.3f}"
        statuses = ", ".join(f"{k} {v}" for k, v in s.statuses.items()) or "—"
        lines.append(
            f"| {s.protocol} | {s.tasks} | {accuracy} | {_cell(s.tokens_per_task, '.0f')} "
            f"| {_cell(s.calls_per_task, '.2f')} | {_cell(s.rounds_per_task, '.2f')} "
            f"| {_cell(s.seconds_per_task, '.1f')} | {_cell(s.cost_per_task, '.6f')} "
            f"| {_cell(s.valid_review_rate, '.3f')} | {_cell(s.answered_rate, '.3f')} "
            f"| {statuses} |"
        )
    teams = sorted({", ".join(r.team) for r in rows if r.team})
    if any(r.simulated for r in rows):
        lines += ["", SIMULATED]
    lines += [
        "",
        "Accuracy counts every answered task, failed ones as wrong. Seconds are wall time "
        "from the task's intake to its result, with other tasks in flight. Valid reviews: "
        "reviews whose ballot validated over review seats asked (nsed only). Answered: "
        "tasks whose result has an extracted answer.",
        "",
        "Teams seated: " + ("; ".join(teams) if teams else "none"),
        "",
    ]
    return "\n".join(lines)


def plot(dataset: str, table: Sequence[ProtocolSummary]) -> str:
    """The accuracy-versus-tokens SVG of the protocols that answered anything."""
    points = [
        {
            "strategy": s.protocol,
            "accuracy": s.accuracy,
            "tokens_per_task": s.tokens_per_task,
            "calls_per_task": s.calls_per_task,
        }
        for s in table
        if s.tasks
    ]
    return render_accuracy_vs_tokens(points, title=f"nsed eval: {dataset}")
