"""What an evaluation keeps in ``--out``: one ``Row`` per answered task, and the run's
identity, so that a run interrupted anywhere continues where it stopped.

``OUT/run.json``       the data set, the run id and the settings the task ids stand for
``OUT/results.jsonl``  one ``Row`` per task, appended as each result arrives

A task is done when a row of the same data set, protocol and line is in the file. A task's
id is derived from the data set, protocol, line and run id, so a resumed run asks for
exactly the tasks the interrupted one asked for, and finds the results that arrived after
it stopped. A line the interruption cut short is skipped (and counted).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import msgspec

from schemas.gate import DeliberationConcluded
from services.eval.datasets import Item

RESULTS = "results.jsonl"
RUN = "run.json"
SLUG_CHARS = 32
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


class RunMismatch(ValueError):
    """``--out`` holds a run whose task ids mean other tasks."""


class Row(msgspec.Struct, frozen=True, kw_only=True):
    dataset: str
    protocol: str
    line: int
    task_id: str
    status: str
    stop_reason: str
    answer: str | None
    extracted: str | None
    reference: str
    answer_format: str
    correct: bool
    tokens: int
    calls: int
    cost: float
    seconds: float
    rounds: int
    valid_ballots: int  # reviews whose ballot validated (the result's quality.valid_reviews)
    review_seats: int
    # valid reviews over the review seats asked; None when the protocol asks for no review
    valid_review_rate: float | None
    team: tuple[str, ...] = ()
    simulated: bool = False

    def key(self) -> tuple[str, str, int]:
        return (self.dataset, self.protocol, self.line)


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """A run's identity: its id and every setting that goes into the tasks it asks."""

    dataset: str
    run_id: str = ""
    max_rounds: int | None = None
    team: tuple[str, ...] = ()
    deadline_s: float | None = None


_row = msgspec.json.Decoder(Row)
_run = msgspec.json.Decoder(RunState)


def dataset_name(path: Path) -> str:
    """The data set's name in task ids and reports: its file name without the extension."""
    slug = _UNSAFE.sub("-", path.stem).strip("-")[:SLUG_CHARS].strip("-")
    return slug or "dataset"


def task_id(dataset: str, protocol: str, line: int, run_id: str) -> str:
    """Stable for the same inputs; protocol names hold no ``-`` and lines are digits, so
    two (protocol, line) pairs of one run never share an id."""
    return f"{dataset}-{protocol}-{line}-{run_id}"


def new_run_id() -> str:
    return secrets.token_hex(4)


def reviewed(result: DeliberationConcluded, protocol: str) -> tuple[int, int, float | None]:
    """Valid reviews, review seats asked and their ratio. Only ``nsed`` reviews; every seat
    of its team is asked once per round (a seat that cannot review, or does not in time,
    counts as not valid). Valid is the reviewer's verdict on the ballot, not the tally's
    quorum count, which also leaves out valid ballots that state no preference."""
    if protocol != "nsed":
        return 0, 0, None
    seats = len(result.team) * len(result.summaries)
    valid = result.quality.valid_reviews
    return valid, seats, (round(valid / seats, 4) if seats else None)


def row_of(dataset: str, protocol: str, item: Item, result: DeliberationConcluded) -> Row:
    valid, seats, rate = reviewed(result, protocol)
    return Row(
        dataset=dataset,
        protocol=protocol,
        line=item.line,
        task_id=result.task_id,
        status=result.status,
        stop_reason=result.stop_reason,
        answer=result.answer,
        extracted=result.extracted_answer,
        reference=item.reference,
        answer_format=item.answer_format,
        correct=bool(result.correct),
        tokens=result.total.input_tokens + result.total.output_tokens,
        calls=result.total.calls,
        cost=result.cost_usd,
        seconds=result.elapsed_s,
        rounds=result.rounds,
        valid_ballots=valid,
        review_seats=seats,
        valid_review_rate=rate,
        team=tuple(s.agent_id for s in result.team),
        simulated=result.simulated,
    )


def open_run(out: Path, wanted: RunState) -> RunState:
    """The run ``out`` holds, or ``wanted`` with a new run id, written there; a run of
    another data set or other settings is refused (its task ids would name other tasks)."""
    path = out / RUN
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        state = msgspec.structs.replace(wanted, run_id=new_run_id())
        path.write_bytes(msgspec.json.format(msgspec.json.encode(state)) + b"\n")
        return state
    try:
        state = _run.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise RunMismatch(f"{path} is not a run file of nsed eval ({exc})") from exc
    for name in RunState.__struct_fields__:
        if name == "run_id":
            continue
        was, now = getattr(state, name), getattr(wanted, name)
        if was != now:
            raise RunMismatch(
                f"{out} holds a run with {name} {_show(was)}, not {_show(now)}: "
                "use another --out, or the same settings to resume it"
            )
    return state


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "(none)"
    return "(default)" if value is None else str(value)


def load_rows(path: Path) -> tuple[list[Row], int]:
    """The rows in ``path`` (the last one per task) and how many lines were unreadable."""
    if not path.exists():
        return [], 0
    rows: dict[tuple[str, str, int], Row] = {}
    broken = 0
    for text in path.read_bytes().splitlines():
        if not text.strip():
            continue
        try:
            row = _row.decode(text)
        except msgspec.DecodeError:
            broken += 1
            continue
        rows[row.key()] = row
    return list(rows.values()), broken


def append_row(path: Path, row: Row) -> None:
    """One line, flushed; after a line cut short by an interruption, on a line of its own."""
    with path.open("ab") as out:
        if out.tell() > 0:
            with path.open("rb") as last:
                last.seek(-1, 2)
                if last.read(1) != b"\n":
                    out.write(b"\n")
        out.write(msgspec.json.encode(row) + b"\n")
        out.flush()


def done_keys(rows: Iterable[Row]) -> set[tuple[str, str, int]]:
    return {row.key() for row in rows}
