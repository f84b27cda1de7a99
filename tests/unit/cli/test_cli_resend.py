"""``nsed submit`` sends a task again, under the same submission id, when a following
connection lost NATS before the server acknowledged it; a stack that is simply not there
is still one error at once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import nats.errors
import pytest

from services._runtime.retry import Backoff
from services.cli import submit
from services.cli.client import CliError
from services.cli.submit import build_task, publish

TASK = build_task("What is 2+2?", answer="4", domain="general", answer_format=None, policy={})


class Js:
    """A JetStream whose first publishes fail with ``failures``, in order."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.ids: list[str] = []

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> Any:
        self.ids.append(headers["Nats-Msg-Id"])
        if self.failures:
            raise self.failures.pop(0)
        return SimpleNamespace(seq=7)


class Nc:
    def __init__(self, js: Js, *, follows: bool, reconnects: int = 0) -> None:
        self.js = js
        self.options = {"allow_reconnect": follows}  # what client.connect(follow=...) sets
        self.stats = {"reconnects": reconnects}

    def jetstream(self, timeout: float) -> Js:
        return self.js


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submit, "RESEND", Backoff(first_s=0.001, max_s=0.001))


async def test_a_task_not_acknowledged_is_sent_again_under_the_same_submission_id() -> None:
    js = Js(nats.errors.TimeoutError(), TimeoutError())
    assert await publish(Nc(js, follows=True), TASK) == 7  # type: ignore[arg-type]
    assert len(js.ids) == 3
    assert len(set(js.ids)) == 1  # one submission: the broker sees it once
    assert js.ids[0].startswith(f"{TASK.task_id}:")


async def test_no_stream_right_after_a_reconnect_is_jetstream_still_loading() -> None:
    js = Js(nats.errors.NoRespondersError())
    assert await publish(Nc(js, follows=True, reconnects=1), TASK) == 7  # type: ignore[arg-type]
    assert len(js.ids) == 2


async def test_no_stream_on_a_connection_never_lost_is_one_error_at_once() -> None:
    js = Js(nats.errors.NoRespondersError())
    with pytest.raises(CliError, match="services are not running"):
        await publish(Nc(js, follows=True), TASK)  # type: ignore[arg-type]
    assert len(js.ids) == 1


async def test_submit_no_wait_does_not_send_again() -> None:
    js = Js(nats.errors.TimeoutError())
    with pytest.raises(CliError, match="did not acknowledge"):
        await publish(Nc(js, follows=False), TASK)  # type: ignore[arg-type]
    assert len(js.ids) == 1
