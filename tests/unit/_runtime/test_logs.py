"""Logs a person can read: one line per finished task in the gate's log, a warning naming
a member a phase timer left behind, and each model call's tokens and cost on the runner's
line (with what the model answered at debug level)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from structlog.testing import LogCapture

from schemas.propose import ProposeRequested
from schemas.review import ReviewEntry, ReviewRequested
from services.agent_runner.backends import traced
from services.agent_runner.backends.base import ProposalDraft, ReviewDraft
from services.agent_runner.config import load_pool
from services.agent_runner.probe import probe_request
from services.core import timeouts
from services.gate import handlers as gate
from services.inmemory import InMemoryServices

from ..builders import NOW, proposal_for
from ..opened_task import opened, submitted, timer

POOL = load_pool(Path(__file__).resolve().parents[2] / "data" / "pool.toml")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every line the gate, the phase timers (the reviewer's and the voter's) and the traced
    backend log, debug included."""
    cap = LogCapture()
    logger = structlog.wrap_logger(
        None,
        processors=[structlog.contextvars.merge_contextvars, cap],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    for module in (gate, timeouts, traced):
        monkeypatch.setattr(module, "log", logger)
    structlog.contextvars.clear_contextvars()
    yield cap.entries
    structlog.contextvars.clear_contextvars()


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]


async def test_the_gate_logs_one_line_for_a_task_it_ends(
    inmem: InMemoryServices, captured: list[dict[str, Any]]
) -> None:
    await opened(inmem, deadline_s=60.0)
    inmem.clock.now = NOW + 60
    due = timer("h-1", 0, "task", owner="gate")
    [result] = await inmem.handle(due)
    await inmem.handle(due)  # redelivered: no second line
    [line] = events(captured, "task_finished")
    assert line == {
        "event": "task_finished", "log_level": "info", "task_id": "h-1", "status": "failed",
        "stop_reason": "deadline", "rounds": 0, "cost_usd": result.cost_usd,
        "elapsed_s": 60.0, "answer": None, "correct": None,
    }  # fmt: skip


def test_the_answer_on_the_finished_line_is_one_short_line() -> None:
    assert gate.preview("  The answer\n is 42. ") == "The answer is 42."
    long = gate.preview("x" * 500)
    assert long is not None
    assert len(long) == gate.PREVIEW_CHARS
    assert long.endswith("…")


async def test_a_member_a_phase_timer_leaves_behind_is_a_warning_with_the_timeout(
    inmem: InMemoryServices, captured: list[dict[str, Any]]
) -> None:
    requests = await opened(inmem)
    for request in requests[:2]:
        await submitted(inmem, proposal_for(request, "42"))
    record = inmem.store.records["h-1"]
    inmem.clock.now = record.current.phase_deadline
    await inmem.handle(timer("h-1", 1, "proposing"))
    await inmem.handle(timer("h-1", 1, "proposing"))
    slow = requests[2]
    assert events(captured, "member_timed_out") == [
        {"event": "member_timed_out", "log_level": "warning", "agent_id": slow.agent_id,
         "seat": slow.seat, "phase": "proposing", "round": 1,
         "phase_timeout_s": round(record.phase_timeout_s, 1)},
    ]  # fmt: skip
    inmem.clock.now = inmem.store.records["h-1"].current.phase_deadline + 1
    await inmem.handle(timer("h-1", 1, "reviewing"))
    late = events(captured, "member_timed_out")[1:]
    assert sorted((w["phase"], w["seat"]) for w in late) == [("reviewing", 0), ("reviewing", 1)]


class Answering:
    simulated = False

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        return ProposalDraft(content="It is 42.\n" + "y" * 9000, reasoning="6*7",
                             input_tokens=1200, output_tokens=300, latency_s=0.5)  # fmt: skip

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        return ReviewDraft(
            entries=(ReviewEntry(label="A", weight=80.0),), input_tokens=2000,
            output_tokens=150, latency_s=0.5, notes=("review JSON cut off; kept 1 entry",),
        )  # fmt: skip

    async def aclose(self) -> None:
        return None


async def test_a_model_call_puts_its_tokens_and_cost_on_the_line_and_its_answer_at_debug(
    captured: list[dict[str, Any]],
) -> None:
    profile = POOL.agent("alpha")  # $0.05 in, $0.20 out per million tokens
    backend = traced.TracedBackend(Answering(), profile, trace.NoOpTracer())
    await backend.propose(probe_request(profile, NOW))
    bound = structlog.contextvars.get_contextvars()
    assert (bound["input_tokens"], bound["output_tokens"]) == (1200, 300)
    assert bound["cost_usd"] == pytest.approx((1200 * 0.05 + 300 * 0.20) / 1e6)
    assert bound["model"] == profile.model
    [proposed] = events(captured, "model_response")
    assert proposed["log_level"] == "debug"
    assert proposed["content"].startswith("It is 42.\n")
    assert len(proposed["content"]) < traced.RESPONSE_CHARS + 100  # cut, and says how much
    assert "chars] …" in proposed["content"]
    assert proposed["reasoning"] == "6*7"
    asked = probe_request(profile, NOW)
    review = ReviewRequested(
        task_id="probe", round=1, message_id="r", seat=0, agent_id="alpha", task=asked.task,
        candidates=(), deadline=NOW,
    )  # fmt: skip
    await backend.review(review)
    reviewed = events(captured, "model_response")[1]
    assert reviewed["repairs"] == ["review JSON cut off; kept 1 entry"]
    assert reviewed["entries"][0]["label"] == "A"
    assert structlog.contextvars.get_contextvars()["input_tokens"] == 2000
