"""``nsed submit`` builds the task a client means: the protocol flag reaches the policy."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from schemas.task import TaskSubmitted
from services.cli import submit as submit_module
from services.cli.main import cli


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
