"""One span per model call, with the OpenTelemetry GenAI attributes and the call's cost.

Wraps any backend: ``chat <model>`` (kind CLIENT) under the runner's ``propose``/``review``
span, carrying ``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens`` and ``nsed.cost_usd``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.agent_runner.backends.base import AgentBackend, ProposalDraft, ReviewDraft
from services.agent_runner.config import AgentProfile

D = TypeVar("D", ProposalDraft, ReviewDraft)


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
            return draft

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        return await self._call("propose", request, self.inner.propose(request))

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        return await self._call("review", request, self.inner.review(request))

    async def aclose(self) -> None:
        await self.inner.aclose()
