"""``nsed eval``: a data set against the live pool, every protocol through the pipeline.

Exit codes: 0 every task answered, 1 some task had no result in time (run again with the
same ``--out`` to collect it), 2 usage or connection error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import get_args

import click
from rich.table import Table

from schemas.task import ProtocolName
from services.cli import client
from services.cli.client import run_async

PROTOCOLS: tuple[str, ...] = get_args(ProtocolName)


def _protocols(_: click.Context, __: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown or not chosen:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'none given'}; choose from {', '.join(PROTOCOLS)}"
        )
    return chosen


@click.command("eval")
@click.argument("dataset", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--protocols",
    default="nsed,vote",
    show_default=True,
    callback=_protocols,
    metavar="P,P,...",
    help=f"Protocols to run, each on every task: {', '.join(PROTOCOLS)}.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The first N tasks.")
@click.option(
    "--team",
    default="",
    metavar="ID,ID,...",
    help="Seat exactly these live agents (repeats allowed); default: the broker chooses.",
)
@click.option("--max-rounds", type=click.IntRange(1, 50), default=None)
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds per task [default: derived from the team's measured latency].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write results.jsonl, summary.md and accuracy-vs-tokens.svg here; resume from it.",
)
@click.option(
    "--in-flight",
    type=click.IntRange(1, 1000),
    default=4,
    show_default=True,
    help="Tasks on the pool at once.",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly the summary JSON.")
def eval_command(
    dataset: Path,
    protocols: tuple[str, ...],
    limit: int | None,
    team: str,
    max_rounds: int | None,
    deadline: float | None,
    out: Path | None,
    in_flight: int,
    as_json: bool,
) -> None:
    """Run DATASET (JSONL: GSM8K, MATH/AIME, multiple choice or {prompt, answer, format})
    against the live pool, once per protocol; print accuracy, tokens, seconds and cost per
    task. With --out, an interrupted run continues where it stopped.
    """
    from services.bench.report import Progress
    from services.eval.run import Settings, evaluate

    settings = Settings(
        dataset=dataset,
        protocols=protocols,
        limit=limit,
        team=tuple(a.strip() for a in team.split(",") if a.strip()),
        max_rounds=max_rounds,
        deadline_s=deadline,
        out=out,
        in_flight=in_flight,
    )
    err = client.console(stderr=True)
    bar: list[Progress] = []

    def on_start(pending: int, resumed: int, broken: int) -> None:
        if broken:
            err.print(f"skipped {broken} unreadable line(s) of {out}/results.jsonl")
        if resumed:
            err.print(f"resumed {resumed} task(s) from {out}; {pending} to run")
        # A bar on a log file is noise: only on a terminal.
        shown = not as_json and pending > 0 and err.is_terminal
        bar.append(Progress(pending, enabled=shown))

    def on_progress(done: int) -> None:
        if bar:
            bar[0].update(done)

    try:
        outcome = run_async(evaluate(settings, on_start=on_start, on_progress=on_progress))
    finally:
        if bar:
            bar[0].close()
    if as_json:
        sys.stdout.write(json.dumps(outcome.report()) + "\n")
    else:
        _print_table(outcome.dataset, outcome.report()["results"])
        if any(r.simulated for r in outcome.rows):
            err.print("simulated agents: the figures measure the simulation, not a model")
        for path in outcome.written:
            err.print(f"wrote {path}")
    if outcome.missing:
        err.print(
            f"nsed: {len(outcome.missing)} task(s) had no result in time"
            + (f"; run again with --out {out} to collect them" if out else "")
        )
        sys.exit(client.EXIT_FAILED)


def _print_table(dataset: str, results: list[dict[str, object]]) -> None:
    table = Table(
        "protocol",
        "tasks",
        "accuracy",
        "tokens/task",
        "s/task",
        "USD/task",
        "valid reviews",
        title=f"nsed eval: {dataset}",
    )
    for r in results:
        table.add_row(
            str(r["protocol"]),
            str(r["tasks"]),
            *(
                "—" if r[key] is None else format(r[key], spec)
                for key, spec in (
                    ("accuracy", ".3f"),
                    ("tokens_per_task", ".0f"),
                    ("seconds_per_task", ".1f"),
                    ("cost_per_task", ".6f"),
                    ("valid_review_rate", ".3f"),
                )
            ),
        )
    client.console().print(table)
