"""``nsed trace``'s pure part: span files → the task's spans → a tree → one line per span."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from services.cli.main import cli
from services.cli.trace import Span, build_tree, label, load_task_spans, traces_dir, tree_json

TRACE = "a" * 32
OTHER_TRACE = "b" * 32
ROOT = "1000000000000001"
ROUND1 = "1000000000000002"
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def span(
    span_id: str,
    name: str,
    *,
    parent: str | None = ROUND1,
    service: str = "nsed-reviewer",
    start_ms: float = 0.0,
    duration_ms: float = 1.0,
    trace_id: str = TRACE,
    status: str = "unset",
    **attributes: Any,
) -> dict[str, Any]:
    attrs = {k.replace("__", "."): v for k, v in attributes.items()}
    start = T0 + int(start_ms * MS)
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": parent,
        "name": name,
        "service": service,
        "kind": "consumer",
        "start_ns": start,
        "end_ns": start + int(duration_ms * MS),
        "status": status,
        "attributes": attrs,
        "links": [],
    }


def task_spans(task_id: str = "t-1") -> list[dict[str, Any]]:
    """One round of a task, as the services would write it (root and round from the gate)."""
    ids = {"nsed__task_id": task_id}
    return [
        span(ROOT, f"deliberation {task_id}", parent="c" * 16, service="nsed-gate",
             duration_ms=900, **ids, nsed__status="completed", nsed__stop_reason="converged",
             nsed__rounds=1, nsed__cost_usd=0.000263, nsed__winner_agent="bravo"),
        span("2000000000000001", "intake", parent=ROOT, service="nsed-broker", **ids),
        span(ROUND1, "round 1", parent=ROOT, service="nsed-gate", start_ms=5, duration_ms=800,
             **ids, nsed__round=1, nsed__winner_agent="bravo", nsed__conviction=0.61),
        span("3000000000000001", "propose bravo", service="nsed-agent_runner", start_ms=20,
             duration_ms=400, **ids, nsed__round=1, nsed__agent_id="bravo", nsed__status="ok"),
        span("3000000000000002", "chat bravo-8b", parent="3000000000000001",
             service="nsed-agent_runner", start_ms=21, duration_ms=398, **ids, nsed__round=1,
             nsed__agent_id="bravo", gen_ai__request__model="bravo-8b",
             gen_ai__usage__input_tokens=163, gen_ai__usage__output_tokens=83,
             nsed__cost_usd=0.0000132),
        span("3000000000000003", "propose alpha", service="nsed-agent_runner", start_ms=10,
             duration_ms=300, **ids, nsed__round=1, nsed__agent_id="alpha"),
        span("4000000000000001", "tally", service="nsed-voter", start_ms=700, **ids,
             nsed__round=1, nsed__agent_id="alpha", nsed__phase="voting",
             nsed__winner="t-1:1:0", nsed__winner_agent="bravo", nsed__conviction=0.6123),
        span("5000000000000001", "gate", service="nsed-gate", start_ms=750, **ids,
             nsed__round=1, nsed__phase="gating", nsed__decision="converged",
             nsed__status="completed", nsed__evidence=0.0345, nsed__state_tokens=18),
    ]  # fmt: skip


def write(directory: Path, name: str, records: list[dict[str, Any]], tail: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def names(nodes) -> list[str]:
    return [n.span.name for n in nodes]


def as_span(record: dict[str, Any]) -> Span:
    return Span(**record)


# -- loading -------------------------------------------------------------------------------


def test_every_span_of_the_tasks_trace_is_loaded_from_every_file(tmp_path: Path) -> None:
    records = task_spans()
    write(tmp_path, "gate-1.jsonl", records[:3])
    write(tmp_path, "agent_runner-2.jsonl", records[3:])
    # A span of the same trace without a task id (a rejected message) still belongs to it.
    write(tmp_path, "reviewer-3.jsonl", [span("6000000000000001", "reviewer proposals")])
    write(tmp_path, "notes.txt", [span("7000000000000001", "not a span file")])
    loaded = load_task_spans(tmp_path, "t-1")
    assert {s.span_id for s in loaded} == {r["span_id"] for r in records} | {"6000000000000001"}


def test_spans_of_other_traces_and_other_tasks_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", task_spans("t-1"))
    other = [{**r, "trace_id": OTHER_TRACE} for r in task_spans("t-2")]
    # One client trace holding two tasks: the other task's spans are not this task's.
    same_trace = span("8000000000000001", "intake", parent=ROOT, nsed__task_id="t-3")
    write(tmp_path, "b.jsonl", [*other, same_trace])
    loaded = load_task_spans(tmp_path, "t-1")
    assert {s.trace_id for s in loaded} == {TRACE}
    assert "8000000000000001" not in {s.span_id for s in loaded}
    assert len(loaded) == len(task_spans())


def test_cut_off_corrupt_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    records = task_spans()
    good = "".join(json.dumps(r) + "\n" for r in records)
    cut = json.dumps(span("9000000000000001", "cut off", nsed__task_id="t-1"))[:60]
    junk = [
        "not json at all",
        '{"trace_id": 42, "span_id": "x"}',  # wrong types
        '["a", "list"]',
        '{"name": "no ids", "attributes": {"nsed.task_id": "t-1"}}',
        "",
    ]
    first_half = good[: len(good) // 2].rsplit("\n", 1)[0] + "\n"
    (tmp_path / "broker-1.jsonl").write_bytes(
        (first_half + "\n".join(junk) + "\n").encode() + b"\xff\xfe not utf-8\n"
    )
    (tmp_path / "gate-1.jsonl").write_text(good + cut)
    loaded = load_task_spans(tmp_path, "t-1")
    assert {s.span_id for s in loaded} == {r["span_id"] for r in records}


def test_a_span_written_twice_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", task_spans())
    write(tmp_path, "b.jsonl", task_spans()[:2])
    assert len(load_task_spans(tmp_path, "t-1")) == len(task_spans())


def test_a_missing_directory_or_an_unknown_task_has_no_spans(tmp_path: Path) -> None:
    assert load_task_spans(tmp_path / "nowhere", "t-1") == []
    write(tmp_path, "a.jsonl", task_spans())
    assert load_task_spans(tmp_path, "t-404") == []
    assert load_task_spans(tmp_path, "t-") == []  # a prefix of a task id is not that task


def test_the_span_files_live_under_the_homes_traces_folder() -> None:
    assert traces_dir(".nsed") == Path(".nsed/traces")


# -- the tree ------------------------------------------------------------------------------


def test_the_root_comes_first_and_children_are_ordered_by_start_time() -> None:
    top = build_tree(as_span(r) for r in reversed(task_spans()))
    assert names(top) == ["deliberation t-1"]
    root = top[0]
    assert names(root.children) == ["intake", "round 1"]
    round1 = root.children[1]
    assert names(round1.children) == ["propose alpha", "propose bravo", "tally", "gate"]
    assert names(round1.children[1].children) == ["chat bravo-8b"]


def test_a_span_whose_parent_is_missing_hangs_under_the_root() -> None:
    records = task_spans()
    stray = span("a000000000000001", "review bravo", parent="f" * 16, start_ms=2)
    top = build_tree(as_span(r) for r in [*records, stray])
    assert names(top) == ["deliberation t-1"]
    assert names(top[0].children) == ["intake", "review bravo", "round 1"]


def test_without_a_root_the_orphans_are_top_level_nodes_in_start_order() -> None:
    # A task still in its first round: neither the root nor the round span is written yet.
    records = [r for r in task_spans() if r["span_id"] not in (ROOT, ROUND1)]
    top = build_tree(as_span(r) for r in records)
    assert names(top) == ["intake", "propose alpha", "propose bravo", "tally", "gate"]
    assert names(top[2].children) == ["chat bravo-8b"]


def test_each_trace_of_a_task_gets_its_own_root() -> None:
    first = task_spans()
    second = [{**r, "trace_id": OTHER_TRACE} for r in task_spans()]
    top = build_tree(as_span(r) for r in [*first, *second])
    assert names(top) == ["deliberation t-1", "deliberation t-1"]
    assert {n.span.trace_id for n in top} == {TRACE, OTHER_TRACE}
    assert all(names(n.children) == ["intake", "round 1"] for n in top)


def test_corrupt_parent_ids_that_form_a_cycle_still_make_a_finite_tree() -> None:
    loop = [
        span("b000000000000001", "one", parent="b000000000000002"),
        span("b000000000000002", "two", parent="b000000000000001", start_ms=1),
        span("b000000000000003", "self", parent="b000000000000003", start_ms=2),
    ]
    top = build_tree(as_span(r) for r in loop)
    assert names(top) == ["one", "two", "self"]
    assert all(n.children == [] for n in top)


def test_the_json_tree_nests_children_with_their_duration() -> None:
    document = tree_json(build_tree(as_span(r) for r in task_spans())[0])
    assert document["name"] == "deliberation t-1"
    assert document["duration_ms"] == pytest.approx(900.0)
    round1 = document["children"][1]
    chat = round1["children"][1]["children"][0]
    assert chat["attributes"]["gen_ai.usage.input_tokens"] == 163
    assert chat["children"] == []
    json.dumps(document)  # plain JSON all the way down


# -- one line per span ---------------------------------------------------------------------


def labels() -> dict[str, str]:
    return {r["name"]: label(as_span(r)).plain for r in task_spans()}


def test_a_chat_span_shows_its_service_duration_agent_tokens_and_cost() -> None:
    assert labels()["chat bravo-8b"] == (
        "chat bravo-8b  agent_runner  398.0 ms  agent bravo · tokens in 163 / out 83 · $0.000013"
    )


def test_the_tally_shows_the_winning_agent_and_conviction_not_the_last_ballot() -> None:
    line = labels()["tally"]
    assert "winner bravo" in line
    assert "conviction 0.61" in line
    assert "alpha" not in line


def test_the_gate_shows_its_decision_and_evidence() -> None:
    line = labels()["gate"]
    assert line.startswith("gate  gate  1.0 ms")
    assert "decision converged" in line
    assert "evidence 0.035" in line


def test_the_root_shows_status_stop_reason_rounds_winner_and_cost() -> None:
    assert labels()["deliberation t-1"] == (
        "deliberation t-1  gate  900.0 ms  completed · converged · 1 round(s) · winner bravo · "
        "$0.000263"
    )


def test_a_step_repeats_no_agent_its_name_already_says_and_hides_an_ok_status() -> None:
    assert labels()["propose bravo"] == "propose bravo  agent_runner  400.0 ms"


def test_an_error_span_says_error_and_long_durations_read_in_whole_milliseconds() -> None:
    record = span("c000000000000001", "review alpha", service="nsed-agent_runner",
                  duration_ms=45_250.4, status="error", nsed__status="timeout")  # fmt: skip
    assert label(as_span(record)).plain == "review alpha  agent_runner  45,250 ms  ERROR · timeout"


def test_attributes_of_unexpected_types_are_not_shown_rather_than_failing() -> None:
    record = span("d000000000000001", "chat x", gen_ai__usage__input_tokens="many",
                  nsed__cost_usd=None, nsed__conviction=True, nsed__winner_agent=3)  # fmt: skip
    assert label(as_span(record)).plain == "chat x  reviewer  1.0 ms"


# -- the command ---------------------------------------------------------------------------


def test_the_command_prints_the_tree_and_exits_0(tmp_path: Path) -> None:
    write(traces_dir(tmp_path), "gate-1.jsonl", task_spans())
    done = CliRunner().invoke(cli, ["trace", "t-1"], env={"NSED_HOME": str(tmp_path)})
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == f"trace {TRACE}"
    assert lines[1].startswith("deliberation t-1  gate")
    assert any("└── chat bravo-8b" in line and "tokens in 163" in line for line in lines)


def test_the_command_prints_the_nested_tree_as_json(tmp_path: Path) -> None:
    write(traces_dir(tmp_path), "gate-1.jsonl", task_spans())
    done = CliRunner().invoke(cli, ["trace", "t-1", "--json"], env={"NSED_HOME": str(tmp_path)})
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["task_id"] == "t-1"
    assert document["trace_ids"] == [TRACE]
    assert [n["name"] for n in document["tree"]] == ["deliberation t-1"]


def test_the_command_exits_2_with_one_line_saying_where_it_looked(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["trace", "t-1"], env={"NSED_HOME": str(tmp_path)})
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"nsed: no spans of task t-1 under {tmp_path / 'traces'} (spans are written there only "
        "when no OTLP collector is configured)\n"
    )
