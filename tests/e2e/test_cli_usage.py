"""What ``nsed`` says to input it refuses before it needs a stack: every error one line on
stderr starting ``nsed:`` (the README's promise), with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.natsserver import free_port
from tests.support.processes import ROOT


def nsed(*args: str) -> subprocess.CompletedProcess[str]:
    # A closed port: none of these may get as far as connecting.
    env = {**os.environ, "NSED_NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("submit", "x", "--bogus"), "No such option '--bogus'"),
        (("bogus",), "No such command 'bogus'"),
        (("bench", "bogus"), "No such command 'bogus'"),
        (("submit", "x", "--format", "latin"), "Invalid value for '--format'"),
        (("bench", "quality", "--tasks", "0"), "Invalid value for '--tasks'"),
        (("eval", "data.jsonl", "--limit", "-3"), "Invalid value for '--limit'"),
        (("eval", "tests"), "is a directory"),
        (("result",), "Missing argument 'TASK_ID'"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help_and_exit_2(
    args: tuple[str, ...], message: str
) -> None:
    done = nsed(*args)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("nsed: ")
    assert message in line
    assert line.endswith("--help` for help)")
    assert done.stdout == ""


def test_help_and_no_arguments_still_print_the_help() -> None:
    shown = nsed("--help")
    assert shown.returncode == 0
    assert "Commands:" in shown.stdout
    bare = nsed()
    assert bare.returncode == 2
    assert "Commands:" in bare.stderr
    assert nsed("submit", "--help").stdout.startswith("Usage: nsed submit")


def test_eval_of_a_file_that_is_not_text_names_the_line_and_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"prompt": "What is 6*7?", "answer": 42}\n\xff\xfe\x00 not text\n')
    done = nsed("eval", str(data))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"nsed: {data}:2: not UTF-8 text")
