"""What the gateway answers, in OpenAI's shapes (pure).

Consumes a task, its events and its ``DeliberationConcluded``; emits the bodies of a chat
completion, of each streamed chunk, and the progress lines a stream carries as
``reasoning_content``. A result without an answer becomes the error its status calls for:

    stop reason no_team                         → NoTeam (503)
    no answer, stop reason deadline             → DeadlineExceeded (504)
    no answer otherwise (every member failed)   → Failed (502)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from services.cli.view import RoundCounts, lines_for, summary_line
from services.gateway.errors import DeadlineExceeded, Failed, GatewayError, NoTeam

WEB_PATH = "/deliberations/{task_id}"
ANSWER_CHARS = 80  # a proposal's answer in a progress line


@dataclass
class Lines:
    """The progress lines of one task, event by event (``nsed watch``'s wording, and each
    ok proposal's answer)."""

    counts: RoundCounts = field(default_factory=RoundCounts)

    def of(self, event: Any) -> list[str]:
        if isinstance(event, DeliberationConcluded):
            return [summary_line(event)]
        if isinstance(event, TaskRefused):
            return [f"refused: {event.reason}"]
        lines = lines_for(event, self.counts)
        if isinstance(event, ProposalSubmitted) and event.status == "ok":
            answer = (event.extracted_answer or "").strip() or "(free text)"
            if len(answer) > ANSWER_CHARS:
                answer = answer[: ANSWER_CHARS - 1] + "…"
            lines.append(f"round {event.round}: {event.agent_id} proposes {answer}")
        if isinstance(event, TeamSelected) and event.simulated and event.round <= 1:
            lines.append("simulated agents: they do not read the question")
        return lines


def error_for(result: DeliberationConcluded) -> GatewayError | None:
    """The error a result without an answer is, or None when it has an answer."""
    if result.stop_reason == "no_team":
        return NoTeam(f"no team: {result.detail}")
    if result.answer is not None:
        return None
    if result.stop_reason == "deadline":
        return DeadlineExceeded(f"no answer by the deadline: {result.detail}")
    return Failed(
        f"the deliberation ended without an answer ({result.stop_reason}): {result.detail}"
    )


def nsed_info(result: DeliberationConcluded, base_url: str) -> dict[str, Any]:
    """The ``nsed`` object of a reply: what the deliberation was, and where to see it."""
    return {
        "task_id": result.task_id,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "rounds": result.rounds,
        "cost_usd": result.cost_usd,
        "trace_id": result.trace_id,
        "url": base_url.rstrip("/") + WEB_PATH.format(task_id=result.task_id),
        "winner_agent": result.winner_agent,
        "extracted_answer": result.extracted_answer,
        "team": [seat.agent_id for seat in result.team],
        "simulated": result.simulated,
        "elapsed_s": result.elapsed_s,
        "detail": result.detail,
        "warnings": list(result.warnings),
    }


def usage(result: DeliberationConcluded) -> dict[str, int]:
    """The whole deliberation's tokens: every proposal and review of every member."""
    total = result.total
    return {
        "prompt_tokens": total.input_tokens,
        "completion_tokens": total.output_tokens,
        "total_tokens": total.input_tokens + total.output_tokens,
    }


def completion_id(task: TaskSubmitted) -> str:
    return f"chatcmpl-{task.task_id}"


def completion(
    task: TaskSubmitted, model: str, result: DeliberationConcluded, reasoning: str, base_url: str
) -> dict[str, Any]:
    """A non-streamed reply: the winning answer, the deliberation's usage and ``nsed``."""
    message: dict[str, Any] = {"role": "assistant", "content": result.answer}
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": completion_id(task),
        "object": "chat.completion",
        "created": int(task.submitted_at or 0),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": usage(result),
        "nsed": nsed_info(result, base_url),
    }


def chunk(
    task: TaskSubmitted,
    model: str,
    delta: dict[str, Any],
    *,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One streamed chunk (``chat.completion.chunk``) with one choice."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {
        "id": completion_id(task),
        "object": "chat.completion.chunk",
        "created": int(task.submitted_at or 0),
        "model": model,
        "choices": [choice],
        **extra,
    }


def usage_chunk(task: TaskSubmitted, model: str, result: DeliberationConcluded) -> dict[str, Any]:
    """The chunk ``stream_options.include_usage`` asks for: no choice, the usage."""
    return {
        "id": completion_id(task),
        "object": "chat.completion.chunk",
        "created": int(task.submitted_at or 0),
        "model": model,
        "choices": [],
        "usage": usage(result),
    }
