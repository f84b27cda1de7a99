"""``nsed eval --out``: task ids, the run file, the rows, and what a resumed run asks again."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.base import TOKEN_PATTERN, Usage
from schemas.gate import DeliberationConcluded, Quality, RoundSummary
from schemas.team import Seat
from services.eval import store
from services.eval.datasets import Item
from services.eval.run import Settings, build_jobs, plan
from services.eval.store import Row, RunMismatch, RunState

PROTOCOLS = ("nsed", "vote", "moa", "debate")


def result(protocol: str = "nsed", rounds: int = 2, valid: int = 3) -> DeliberationConcluded:
    # Valid ballots that state no preference count toward no quorum: the tally counted none
    # of them, but the reviews were valid, and the review rate is about the reviews.
    summary = RoundSummary(
        round=1,
        winner="p1",
        winner_agent="alpha",
        answer="18",
        conviction=0.9,
        scores={},
        state_tokens=10,
        ok_proposals=3,
        valid_ballots=0,
        quorum_met=False,
    )
    return DeliberationConcluded(
        task_id=f"d-{protocol}-1-abcd1234",
        round=rounds,
        message_id="m",
        status="completed",
        stop_reason="converged",
        answer="so \\boxed{18}",
        extracted_answer="18",
        rounds=rounds,
        summaries=(summary,) * rounds,
        team=tuple(Seat(seat=i, agent_id=a) for i, a in enumerate(("alpha", "bravo", "charlie"))),
        total=Usage(input_tokens=900, output_tokens=100, calls=12, cost_usd=0.002),
        cost_usd=0.002,
        correct=True,
        elapsed_s=4.5,
        quality=Quality(
            proposals=3 * rounds,
            answered=3 * rounds,
            reviews=3 * rounds,
            valid_reviews=valid * rounds,
        ),
    )


ITEM = Item(line=7, shape="gsm8k", prompt="q", reference="18", answer_format="integer")


def row(protocol: str = "nsed", line: int = 1, correct: bool = True, **changes: object) -> Row:
    base = store.row_of("d", protocol, dataclasses.replace(ITEM, line=line), result(protocol))
    return msgspec.structs.replace(base, correct=correct, **changes)


def test_a_row_holds_what_the_result_says_and_its_review_rate() -> None:
    nsed = store.row_of("d", "nsed", ITEM, result("nsed", rounds=2, valid=2))
    assert (nsed.line, nsed.reference, nsed.extracted, nsed.correct) == (7, "18", "18", True)
    assert (nsed.tokens, nsed.calls, nsed.cost, nsed.seconds) == (1000, 12, 0.002, 4.5)
    assert (nsed.valid_ballots, nsed.review_seats) == (4, 6)  # 2 valid of 3 seats, 2 rounds
    assert nsed.valid_review_rate == pytest.approx(4 / 6, abs=1e-4)
    assert nsed.team == ("alpha", "bravo", "charlie")
    vote = store.row_of("d", "vote", ITEM, result("vote", rounds=1))
    assert (vote.valid_ballots, vote.review_seats, vote.valid_review_rate) == (0, 0, None)


@given(
    name=st.text(max_size=80),
    protocol=st.sampled_from(PROTOCOLS),
    line=st.integers(1, 10**9),
    run_id=st.from_regex(r"\A[0-9a-f]{8}\Z"),
)
def test_task_ids_are_valid_tokens_and_stable(
    name: str, protocol: str, line: int, run_id: str
) -> None:
    dataset = store.dataset_name(Path(f"{name}.jsonl"))
    tid = store.task_id(dataset, protocol, line, run_id)
    assert re.fullmatch(TOKEN_PATTERN, tid)
    assert tid == store.task_id(dataset, protocol, line, run_id)


@given(
    pairs=st.sets(st.tuples(st.sampled_from(PROTOCOLS), st.integers(1, 10**6)), max_size=30),
    name=st.sampled_from(["gsm8k-test-500", "aime_2025", "x-1-2"]),
)
def test_no_two_tasks_of_one_run_share_an_id(pairs: set[tuple[str, int]], name: str) -> None:
    ids = {store.task_id(name, p, line, "00c0ffee") for p, line in pairs}
    assert len(ids) == len(pairs)


def test_the_run_file_keeps_the_run_id_and_refuses_other_settings(tmp_path: Path) -> None:
    out = tmp_path / "out"
    wanted = RunState(dataset="gsm8k", max_rounds=3, team=("a", "b"), deadline_s=900.0)
    first = store.open_run(out, wanted)
    assert re.fullmatch(r"[0-9a-f]{8}", first.run_id)
    assert store.open_run(out, wanted).run_id == first.run_id
    for change, message in [
        ({"max_rounds": 4}, "max_rounds 3, not 4"),
        ({"team": ()}, "team a,b, not (none)"),
        ({"dataset": "aime"}, "dataset gsm8k, not aime"),
        ({"deadline_s": None}, "deadline_s 900.0, not (default)"),
    ]:
        with pytest.raises(RunMismatch, match=re.escape(message)):
            store.open_run(out, msgspec.structs.replace(wanted, **change))
    (out / store.RUN).write_text("{")
    with pytest.raises(RunMismatch, match="not a run file"):
        store.open_run(out, wanted)


rows = st.builds(
    row,
    protocol=st.sampled_from(PROTOCOLS),
    line=st.integers(1, 500),
    correct=st.booleans(),
    answer=st.none() | st.text(max_size=40),
)


@given(written=st.lists(rows, max_size=12), cut=st.integers(1, 200))
def test_rows_read_back_after_a_torn_line_and_later_appends(
    tmp_path_factory: pytest.TempPathFactory, written: list[Row], cut: int
) -> None:
    path = tmp_path_factory.mktemp("rows") / store.RESULTS
    for r in written:
        store.append_row(path, r)
    torn = msgspec.json.encode(row(line=999))
    with path.open("ab") as out:  # the interruption: a row cut short
        out.write(torn[: min(cut, len(torn) - 1)])
    late = row(protocol="vote", line=1000)
    store.append_row(path, late)

    loaded, broken = store.load_rows(path)

    assert broken == 1
    last = {r.key(): r for r in written}  # a task written twice counts once, as its last row
    assert loaded == [*last.values(), late]


def dataset(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "plain.jsonl"
    path.write_text("".join(f'{{"prompt": "{i}+1?", "answer": "{i + 1}"}}\n' for i in range(lines)))
    return path


@given(
    lines=st.integers(1, 8),
    chosen=st.lists(st.sampled_from(PROTOCOLS), min_size=1, max_size=4, unique=True),
    done=st.sets(st.tuples(st.sampled_from(PROTOCOLS), st.integers(1, 10))),
)
def test_a_resumed_run_asks_exactly_the_tasks_not_done_and_the_same_tasks_as_before(
    tmp_path_factory: pytest.TempPathFactory,
    lines: int,
    chosen: list[str],
    done: set[tuple[str, int]],
) -> None:
    data = dataset(tmp_path_factory.mktemp("d"), lines)
    the_plan = plan(Settings(dataset=data, protocols=tuple(chosen), max_rounds=3))
    keys = {("plain", p, line) for p, line in done}
    fresh, _ = build_jobs(the_plan, "0badcafe", set())
    jobs, resumed = build_jobs(the_plan, "0badcafe", keys)

    every = {(p, line) for p in chosen for line in range(1, lines + 1)}
    asked = {(j.protocol, j.item.line) for j in jobs}
    assert asked == every - done
    assert resumed == len(every & done)
    assert len(jobs) == len(asked)
    # A task asked again is byte for byte the one asked before (the broker refuses an id
    # reused for another task).
    before = {j.task_id: msgspec.json.encode(j.task) for j in fresh}
    assert all(before[j.task_id] == msgspec.json.encode(j.task) for j in jobs)
    assert all(j.task.policy.protocol == j.protocol for j in jobs)
    assert all(j.task.policy.max_rounds == 3 for j in jobs)
