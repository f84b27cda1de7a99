"""One ``nsed eval`` run: the data set's items × the protocols as tasks on the live pool,
minus those ``--out`` already holds; then the summary, written beside the rows.

Consumes the settings of the command line; emits an ``Outcome`` (the summary table, the
rows it covers, what was new, resumed or left without a result) and, with ``--out``, the
files ``results.jsonl``, ``summary.md`` and ``accuracy-vs-tokens.svg``. Every usage error
(the data set, a policy the broker would refuse, an ``--out`` of another run, no pool) is a
``CliError`` raised before any task is published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from schemas.gate import DeliberationConcluded
from schemas.task import Policy, TaskSubmitted
from services.cli import client
from services.cli.client import CliError
from services.eval import datasets, live, store, summary
from services.eval.datasets import Item
from services.eval.live import Job
from services.eval.store import Row

SUMMARY = "summary.md"
PLOT = "accuracy-vs-tokens.svg"


@dataclass(frozen=True)
class Settings:
    dataset: Path
    protocols: tuple[str, ...]
    limit: int | None = None
    team: tuple[str, ...] = ()
    max_rounds: int | None = None
    deadline_s: float | None = None
    out: Path | None = None
    in_flight: int = 4


@dataclass
class Outcome:
    dataset: str
    table: list[summary.ProtocolSummary]
    rows: list[Row]
    new: int
    resumed: int
    missing: list[Job] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return summary.report(self.dataset, self.table)


@dataclass(frozen=True)
class Plan:
    dataset: str
    items: list[Item]
    policies: dict[str, Policy]


def plan(settings: Settings) -> Plan:
    """The items and a policy per protocol, checked as the broker will check them."""
    try:
        items = datasets.load(settings.dataset, settings.limit)
    except datasets.DatasetError as exc:
        raise CliError(str(exc)) from exc
    policies: dict[str, Policy] = {}
    for protocol in settings.protocols:
        raw: dict[str, Any] = {"protocol": protocol, "team": list(settings.team)}
        if settings.max_rounds is not None:
            raw["max_rounds"] = settings.max_rounds
        if settings.deadline_s is not None:
            raw["deadline_s"] = settings.deadline_s
        try:
            policies[protocol] = msgspec.convert(raw, Policy)
        except msgspec.ValidationError as exc:
            raise CliError(f"invalid policy for protocol {protocol}: {exc}") from exc
    return Plan(store.dataset_name(settings.dataset), items, policies)


def build_jobs(
    the_plan: Plan, run_id: str, done: set[tuple[str, str, int]]
) -> tuple[list[Job], int]:
    """The tasks still to ask, protocol by protocol, and how many were already done."""
    jobs: list[Job] = []
    resumed = 0
    for protocol, policy in the_plan.policies.items():
        for item in the_plan.items:
            if (the_plan.dataset, protocol, item.line) in done:
                resumed += 1
                continue
            tid = store.task_id(the_plan.dataset, protocol, item.line, run_id)
            raw = {
                "task_id": tid,
                "prompt": item.prompt,
                "domain": item.domain,
                "answer_format": item.answer_format,
                "reference_answer": item.reference,
                "policy": msgspec.to_builtins(policy),
                # No submission time: a resumed run must publish the very same task.
                "metadata": {"eval_dataset": the_plan.dataset, "eval_line": str(item.line)},
            }
            try:
                task = msgspec.convert(raw, TaskSubmitted)
            except msgspec.ValidationError as exc:
                raise CliError(f"line {item.line}: invalid task: {exc}") from exc
            jobs.append(Job(protocol, item, task))
    return jobs, resumed


def covered(rows: Sequence[Row], the_plan: Plan) -> list[Row]:
    """The rows of this data set, these protocols and these lines (a shorter --limit
    reports on fewer lines than the file holds)."""
    lines = {item.line for item in the_plan.items}
    return [
        r
        for r in rows
        if r.dataset == the_plan.dataset and r.protocol in the_plan.policies and r.line in lines
    ]


async def evaluate(
    settings: Settings,
    *,
    url: str | None = None,
    on_start: Callable[[int, int, int], None] = lambda pending, resumed, broken: None,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Outcome:
    """Run what is left to run. ``on_start(pending, resumed, unreadable lines)`` is called
    once before the first task, ``on_progress(done)`` after each result."""
    the_plan = plan(settings)
    rows: list[Row] = []
    broken = 0
    run_id = store.new_run_id()
    results_path: Path | None = None
    if settings.out is not None:
        try:
            wanted = store.RunState(
                dataset=the_plan.dataset,
                max_rounds=settings.max_rounds,
                team=settings.team,
                deadline_s=settings.deadline_s,
            )
            state = store.open_run(settings.out, wanted)
        except store.RunMismatch as exc:
            raise CliError(str(exc)) from exc
        run_id = state.run_id
        results_path = settings.out / store.RESULTS
        rows, broken = store.load_rows(results_path)
    jobs, resumed = build_jobs(the_plan, run_id, store.done_keys(rows))

    missing: list[Job] = []
    new = 0
    if jobs:
        url = url or client.nats_url()
        nc = await client.connect(url)
        try:
            await live.check_pool(nc, settings.team, url)
            on_start(len(jobs), resumed, broken)

            def record(job: Job, result: DeliberationConcluded) -> None:
                nonlocal new
                row = store.row_of(the_plan.dataset, job.protocol, job.item, result)
                if results_path is not None:
                    store.append_row(results_path, row)
                rows.append(row)
                new += 1
                on_progress(new)

            missing = await live.run_jobs(nc, jobs, in_flight=settings.in_flight, on_result=record)
        finally:
            await nc.close()
    else:
        on_start(0, resumed, broken)

    mine = covered(rows, the_plan)
    table = summary.summaries(mine, list(the_plan.policies))
    outcome = Outcome(the_plan.dataset, table, mine, new, resumed, missing)
    if settings.out is not None:
        outcome.written = write(settings.out, outcome, described(settings, len(the_plan.items)))
    return outcome


def described(settings: Settings, tasks: int) -> list[str]:
    """The settings a reader needs to run the same evaluation again."""
    team = ", ".join(settings.team) if settings.team else "chosen by the broker per task"
    rounds = settings.max_rounds if settings.max_rounds is not None else "the policy default"
    deadline = f"{settings.deadline_s:g} s" if settings.deadline_s else "from the team's latency"
    return [
        f"data: `{settings.dataset}`, {tasks} task(s)",
        f"protocols: {', '.join(settings.protocols)}; max rounds: {rounds}; team: {team}",
        f"deadline per task: {deadline}; tasks in flight: {settings.in_flight}",
    ]


def write(out: Path, outcome: Outcome, settings: Sequence[str] = ()) -> list[Path]:
    md = out / SUMMARY
    md.write_text(summary.markdown(outcome.dataset, outcome.table, outcome.rows, settings))
    svg = out / PLOT
    svg.write_text(summary.plot(outcome.dataset, outcome.table))
    return [out / store.RESULTS, md, svg]
