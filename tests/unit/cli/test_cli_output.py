"""What the CLI prints is never cut: no line is wrapped at 80 columns off a terminal, and
an agent id, which a user must type, is never truncated."""

from __future__ import annotations

import pytest
from rich.console import Console

from schemas.gate import DeliberationConcluded
from services.broker.registry import LiveAgent
from services.cli.inspect import print_agents
from services.cli.submit import print_answer

from ..builders import card

LONG_ID = "qwen3-30b-a3b-instruct-2507-q4_k_m-on-the-second-gpu-of-rack-b07"  # 64 characters


def live(agent_id: str) -> LiveAgent:
    return LiveAgent(
        card=card(agent_id, model="Qwen/Qwen3-30B-A3B-Instruct-2507-GGUF:Q4_K_M"),
        instances=1, capacity=2, in_flight=0,
    )  # fmt: skip


def test_a_piped_answer_keeps_its_long_lines_whole(capsys: pytest.CaptureFixture[str]) -> None:
    line = "The sum telescopes: " + " + ".join(f"1/({k}*{k + 1})" for k in range(1, 30))
    result = DeliberationConcluded(
        task_id="t", round=1, message_id="m", status="completed", stop_reason="converged",
        answer=f"{line}\n\\boxed{{29/30}}", extracted_answer="29/30", rounds=1,
    )  # fmt: skip
    print_answer(result)  # stdout is captured: not a terminal
    assert len(line) > 200
    assert line in capsys.readouterr().out.splitlines()


def test_a_piped_agent_table_shows_a_long_id_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(LONG_ID) == 64  # the longest id a pool accepts
    print_agents([live(LONG_ID), live("alpha")], as_json=False)
    out = capsys.readouterr().out
    assert LONG_ID in out
    assert "…" not in out


@pytest.mark.parametrize("width", [100, 120])
def test_a_narrow_terminal_never_truncates_an_agent_id(width: int) -> None:
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    print_agents([live(LONG_ID), live("alpha")], as_json=False, console=console)
    assert LONG_ID in console.export_text()
