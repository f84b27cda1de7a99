"""One span per model call, with the OpenTelemetry GenAI attributes and the call's cost.

Wraps any backend: ``chat <model>`` (kind CLIENT) under the runner's ``propose``/``review``
span, carrying ``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens`` and ``nsed.cost_usd``.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AnyValue

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.agent_runner.backends.base import AgentBackend, ProposalDraft, ReviewDraft
from services.agent_runner.config import AgentProfile


class TracedBackend:
    def __init__(self, inner: AgentBackend, profile: AgentProfile, tracer: trace.Tracer) -> None:
        self.inner = inner
        self.profile = profile
        self.tracer = tracer
        self.simulated = inner.simulated
        self.model = profile.openai.model if profile.openai is not None else profile.model

    def _attributes(self, phase: str, task_id: str, round_number: int) -> dict[str, AnyValue]:
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "nsed.sim" if self.simulated else "openai",
            "gen_ai.request.model": self.model,
            "nsed.agent_id": self.profile.id,
            "nsed.phase": phase,
            "nsed.task_id": task_id,
            "nsed.round": round_number,
        }

    def _usage(self, span: trace.Span, input_tokens: int, output_tokens: int) -> None:
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        span.set_attribute("nsed.cost_usd", self.profile.cost_usd(input_tokens, output_tokens))

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        with self.tracer.start_as_current_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes=self._attributes("propose", request.task_id, request.round),
        ) as span:
            draft = await self.inner.propose(request)
            self._usage(span, draft.input_tokens, draft.output_tokens)
            return draft

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        with self.tracer.start_as_current_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes=self._attributes("review", request.task_id, request.round),
        ) as span:
            draft = await self.inner.review(request)
            self._usage(span, draft.input_tokens, draft.output_tokens)
            return draft

    async def aclose(self) -> None:
        await self.inner.aclose()
