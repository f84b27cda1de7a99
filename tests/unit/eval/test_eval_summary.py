"""``nsed eval``'s summary: per-protocol means of the answered tasks, the exact JSON, the
Markdown table and the plot; and the command's usage errors (no NATS needed for those)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from services.cli.main import cli
from services.eval import summary
from services.eval.store import Row


def make(
    protocol: str = "nsed",
    line: int = 1,
    correct: bool = True,
    tokens: int = 1000,
    seconds: float = 2.0,
    cost: float = 0.001,
    valid: int = 3,
    seats: int = 3,
    status: str = "completed",
    extracted: str | None = "1",
) -> Row:
    return Row(
        dataset="d",
        protocol=protocol,
        line=line,
        task_id=f"d-{protocol}-{line}-00000000",
        status=status,
        stop_reason="converged",
        answer="\\boxed{1}",
        extracted=extracted,
        reference="1",
        answer_format="integer",
        correct=correct,
        tokens=tokens,
        calls=6,
        cost=cost,
        seconds=seconds,
        rounds=1,
        valid_ballots=valid,
        review_seats=seats,
        valid_review_rate=valid / seats if seats else None,
        team=("alpha", "bravo", "charlie"),
    )


def test_the_json_report_has_exactly_the_documented_shape() -> None:
    rows = [
        make(line=1, correct=True, tokens=1000, valid=3, seats=3),
        make(
            line=2,
            correct=False,
            tokens=3000,
            seconds=4.0,
            valid=1,
            seats=6,
            cost=0.003,
            extracted=None,
        ),
        make("vote", line=1, correct=True, tokens=300, valid=0, seats=0),
    ]
    report = summary.report("d", summary.summaries(rows, ["nsed", "vote", "debate"]))
    assert report == {
        "suite": "eval",
        "dataset": "d",
        "results": [
            {
                "protocol": "nsed",
                "tasks": 2,
                "accuracy": 0.5,
                "tokens_per_task": 2000.0,
                "seconds_per_task": 3.0,
                "cost_per_task": 0.002,
                "valid_review_rate": round(4 / 9, 4),  # summed reviews over summed seats
                "answered_rate": 0.5,  # one of the two has an extracted answer
            },
            {
                "protocol": "vote",
                "tasks": 1,
                "accuracy": 1.0,
                "tokens_per_task": 300.0,
                "seconds_per_task": 2.0,
                "cost_per_task": 0.001,
                "valid_review_rate": None,
                "answered_rate": 1.0,
            },
            {
                "protocol": "debate",
                "tasks": 0,
                "accuracy": None,
                "tokens_per_task": None,
                "seconds_per_task": None,
                "cost_per_task": None,
                "valid_review_rate": None,
                "answered_rate": None,
            },
        ],
    }
    json.dumps(report, allow_nan=False)


@given(
    st.lists(
        st.builds(
            make,
            protocol=st.sampled_from(["nsed", "vote"]),
            correct=st.booleans(),
            tokens=st.integers(0, 10**6),
            valid=st.integers(0, 5),
            extracted=st.sampled_from(["1", None]),
        ),
        max_size=40,
    )
)
def test_a_summary_counts_each_protocols_rows_and_ignores_their_order(rows: list[Row]) -> None:
    for protocol in ("nsed", "vote"):
        mine = [r for r in rows if r.protocol == protocol]
        s = summary.summarize(rows, protocol)
        assert s.tasks == len(mine)
        assert s == summary.summarize(list(reversed(rows)), protocol)
        if mine:
            assert s.accuracy == round(sum(r.correct for r in mine) / len(mine), 4)
            assert s.accuracy is not None
            assert 0.0 <= s.accuracy <= 1.0
            assert sum(s.statuses.values()) == len(mine)
            answered = sum(r.extracted is not None for r in mine)
            assert s.answered_rate == round(answered / len(mine), 4)
        else:
            assert s.accuracy is None
            assert s.tokens_per_task is None


def test_the_markdown_summary_has_a_row_per_protocol_and_the_settings() -> None:
    rows = [make(line=1), make(line=2, correct=False), make("vote")]
    table = summary.summaries(rows, ["nsed", "vote", "moa"])
    text = summary.markdown("d", table, rows, ["data: `x.jsonl`, 2 task(s)"])
    assert "- data: `x.jsonl`, 2 task(s)" in text
    assert "| nsed | 2 | 0.500 ± 0.354 | 1000 |" in text
    assert "| vote | 1 | 1.000 ± 0.000 |" in text
    assert "| moa | 0 | — |" in text
    assert "Teams seated: alpha, bravo, charlie" in text
    assert "Simulated agents" not in text
    simulated = [msgspec.structs.replace(r, simulated=True) for r in rows]
    assert "**Simulated agents** answered" in summary.markdown("d", table, simulated)


def test_the_plot_marks_each_protocol_that_answered_anything() -> None:
    table = summary.summaries([make(), make("vote", tokens=300)], ["nsed", "vote", "moa"])
    svg = summary.plot("d", table)
    assert svg.startswith("<svg")
    assert 'data-strategy="nsed"' in svg
    assert 'data-strategy="vote"' in svg
    assert 'data-strategy="moa"' not in svg


def test_an_unknown_protocol_is_a_usage_error() -> None:
    done = CliRunner().invoke(cli, ["eval", "x.jsonl", "--protocols", "nsed,chat"])
    assert done.exit_code == 2
    assert "chat; choose from nsed, vote, moa, debate" in done.output


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('{"prompt": "a", "answer": "1"}\n{"prompt": 3}\n', (), "data.jsonl:2: 'prompt' must be"),
        ('{"prompt": "a", "answer": "1"}\n', ("--team", "alpha"), "needs a team of at least 2"),
    ],
)
def test_a_bad_data_set_or_policy_is_one_line_and_exit_2_before_connecting(
    tmp_path: Path, content: str, args: tuple[str, ...], message: str
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text(content)
    # An address nothing listens on: the command must fail before it tries to connect.
    env = {"NSED_NATS_URL": "nats://127.0.0.1:1"}
    done = CliRunner().invoke(cli, ["eval", str(data), *args], env=env)
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("nsed: ")
    assert message in lines[0]
    assert "cannot reach NATS" not in done.output
