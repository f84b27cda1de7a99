"""``nsed submit`` builds the task a client means: the protocol flag reaches the policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemas.gate import DeliberationConcluded
from schemas.limits import PROMPT_CHARS
from schemas.task import TaskSubmitted
from services.cli import submit as submit_module
from services.cli.main import cli
from services.cli.submit import print_answer


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[TaskSubmitted]:
    """The tasks ``nsed submit`` would publish (no NATS: the publishing step is replaced)."""
    tasks: list[TaskSubmitted] = []

    async def fake_submit(task: TaskSubmitted, **_: Any) -> int:
        tasks.append(task)
        return 0

    monkeypatch.setattr(submit_module, "submit", fake_submit)
    return tasks


@pytest.mark.parametrize("protocol", ["nsed", "vote", "moa", "debate"])
def test_submit_sends_the_protocol_it_is_given(sent: list[TaskSubmitted], protocol: str) -> None:
    done = CliRunner().invoke(cli, ["submit", "What is 6*7?", "--protocol", protocol])
    assert done.exit_code == 0, done.output
    [task] = sent
    assert task.policy.protocol == protocol


def test_submit_defaults_to_nsed_and_refuses_an_unknown_protocol(sent: list[TaskSubmitted]) -> None:
    assert CliRunner().invoke(cli, ["submit", "x"]).exit_code == 0
    assert sent[0].policy.protocol == "nsed"
    refused = CliRunner().invoke(cli, ["submit", "x", "--protocol", "chat"])
    assert refused.exit_code == 2
    assert "chat" in refused.output
    assert len(sent) == 1


def test_submit_dash_reads_the_prompt_from_stdin(sent: list[TaskSubmitted]) -> None:
    # Past one argv string's limit (128 KiB), within a task's 100,000 characters.
    prompt = "What is 6*7?\n" + "≈→≥…×→ 42. " * 7_000
    assert len(prompt.encode()) > 128 * 1024
    assert len(prompt) <= PROMPT_CHARS
    done = CliRunner().invoke(cli, ["submit", "-"], input=prompt)
    assert done.exit_code == 0, done.output
    assert sent[0].prompt == prompt


def test_submit_file_reads_the_prompt_from_a_file(
    sent: list[TaskSubmitted], tmp_path: Path
) -> None:
    prompt = "Which is prime?\n(A) 4\n(B) 7\n" * 3_000
    path = tmp_path / "prompt.txt"
    path.write_text(prompt, encoding="utf-8")
    done = CliRunner().invoke(cli, ["submit", "--file", str(path)])
    assert done.exit_code == 0, done.output
    assert sent[0].prompt == prompt


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit"], "give the prompt"),
        (["submit", "x", "--file", "{p}"], "either PROMPT or --file"),
        (["submit", "--file", "{missing}"], "no-such-file.txt"),
    ],
)
def test_submit_needs_exactly_one_prompt_source(
    sent: list[TaskSubmitted], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "p.txt").write_text("x")
    paths = {"p": str(tmp_path / "p.txt"), "missing": str(tmp_path / "no-such-file.txt")}
    done = CliRunner().invoke(cli, [a.format(**paths) for a in args])
    assert done.exit_code == 2
    assert message in done.output
    assert sent == []


def test_submit_passes_the_family_limit_and_repeat_seats_to_the_policy(
    sent: list[TaskSubmitted],
) -> None:
    done = CliRunner().invoke(cli, ["submit", "x", "--max-per-family", "3", "--allow-repeat-seats"])
    assert done.exit_code == 0, done.output
    assert (sent[0].policy.max_per_family, sent[0].policy.allow_repeat_seats) == (3, True)
    assert CliRunner().invoke(cli, ["submit", "x"]).exit_code == 0
    assert (sent[1].policy.max_per_family, sent[1].policy.allow_repeat_seats) == (1, False)


def test_the_answer_is_printed_first_then_the_full_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Let me work it out.\n6 * 7 = 42.\n\\boxed{42}"
    result = DeliberationConcluded(
        task_id="t", round=1, message_id="m", status="completed", stop_reason="converged",
        answer=text, extracted_answer="42", rounds=1,
    )  # fmt: skip
    print_answer(result)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "answer: 42"
    assert out.index("answer: 42") < out.index(text)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["submit", "x", "--team-size", "1"], "below quorum: nsed needs a team of at least 2"),
        (["submit", "x", "--answer", "forty-two", "--format", "integer"], "not an integer"),
        (["submit", "Pick the best.", "--format", "choice"], "the prompt shows no options"),
    ],
)
def test_what_cannot_work_is_refused_before_it_is_sent(
    sent: list[TaskSubmitted], args: list[str], words: str
) -> None:
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 2
    [line] = done.output.strip().splitlines()
    assert line.startswith("nsed: ")
    assert words in line
    assert sent == []


def test_a_team_of_one_is_sent_for_vote(sent: list[TaskSubmitted]) -> None:
    done = CliRunner().invoke(cli, ["submit", "x", "--team-size", "1", "--protocol", "vote"])
    assert done.exit_code == 0, done.output
    assert sent[0].policy.team_size == 1
