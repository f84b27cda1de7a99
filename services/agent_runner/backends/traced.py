"""One span per model call, with the OpenTelemetry GenAI attributes and the call's cost.

Wraps any backend: ``chat <model>`` (kind CLIENT) under the runner's ``propose``/``review``
span, carrying ``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens`` and ``nsed.cost_usd``.

The same figures (``model``, ``input_tokens``, ``output_tokens``, ``cost_usd``) are bound to
the log context, so the runner's one ``handled`` line per message carries them. At debug
level, a ``model_response`` line holds what the model answered (cut to
``RESPONSE_CHARS``): a proposal's text and reasoning, a review's entries and the notes on
what its JSON needed repaired (a review's raw text is not in its draft: only the backend
has it).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.agent_runner.backends.base import AgentBackend, ProposalDraft, ReviewDraft
from services.agent_runner.config import AgentProfile

D = TypeVar("D", ProposalDraft, ReviewDraft)
RESPONSE_CHARS = 4000

log = structlog.get_logger("agent_runner")


class TracedBackend:
    def __init__(self, inner: AgentBackend, profile: AgentProfile, tracer: trace.Tracer) -> None:
        self.inner = inner
        self.profile = profile
        self.tracer = tracer
        self.simulated = inner.simulated
        self.model = profile.openai.model if profile.openai is not None else profile.model

    async def _call(
        self, phase: str, request: ProposeRequested | ReviewRequested, call: Awaitable[D]
    ) -> D:
        with self.tracer.start_as_current_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "nsed.sim" if self.simulated else "openai",
                "gen_ai.request.model": self.model,
                "nsed.agent_id": self.profile.id,
                "nsed.phase": phase,
                "nsed.task_id": request.task_id,
                "nsed.round": request.round,
            },
        ) as span:
            draft = await call
            span.set_attribute("gen_ai.usage.input_tokens", draft.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", draft.output_tokens)
            cost = self.profile.cost_usd(draft.input_tokens, draft.output_tokens)
            span.set_attribute("nsed.cost_usd", cost)
            structlog.contextvars.bind_contextvars(
                model=self.model,
                input_tokens=draft.input_tokens,
                output_tokens=draft.output_tokens,
                cost_usd=round(cost, 8),
            )
            log.debug("model_response", phase=phase, **response_of(draft))
            return draft

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        return await self._call("propose", request, self.inner.propose(request))

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        return await self._call("review", request, self.inner.review(request))

    async def aclose(self) -> None:
        await self.inner.aclose()


def response_of(draft: ProposalDraft | ReviewDraft) -> dict[str, Any]:
    """What the model answered, for a debug line (each text cut to ``RESPONSE_CHARS``)."""
    if isinstance(draft, ProposalDraft):
        return {"content": clip(draft.content), "reasoning": clip(draft.reasoning)}
    entries = msgspec.to_builtins(draft.entries)
    return {"entries": entries, "repairs": list(draft.notes)}


def clip(text: str | None) -> str | None:
    if text is None or len(text) <= RESPONSE_CHARS:
        return text
    return (
        f"{text[: RESPONSE_CHARS // 2]} … [{len(text) - RESPONSE_CHARS} chars] … "
        + text[-RESPONSE_CHARS // 2 :]
    )
