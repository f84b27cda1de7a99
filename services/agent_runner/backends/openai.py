"""The ``openai`` backend: any OpenAI-compatible chat-completions server is an agent.

Proposals are free text (the prompts ask for the answer in the task's format, and
``services.core.answers`` extracts it). Reviews are JSON, constrained by the server where
it can (``structured_output``); in ``auto`` the backend tries ``json_schema``, then
``json_object`` with the schema, then the prompt alone, and keeps the first the server
accepts. An output that still cannot be read as a review becomes an ``error`` review with
the reason, and the deliberation goes on without that ballot.

Review prompts are fitted to the context window by the server's own token count where it
has one (``backends.server``), found once per runner; else by the estimate with a margin.
At start (``inspect``) a runner says in one warning line when the model's chat template
is missing or drops the system message; ``fold_system`` sends it in the first user turn.
``answer_grammar`` holds proposals to a grammar that ends them with a final-answer line.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services._runtime.errors import ConfigError
from services.agent_runner import prompts
from services.agent_runner.backends.base import BackendError, ProposalDraft, ReviewDraft
from services.agent_runner.backends.chat import ChatClient, ChatResult, StructuredOutputRefused
from services.agent_runner.backends.grammar import answer_grammar
from services.agent_runner.backends.server import (
    ESTIMATE_MARGIN,
    Tokenizer,
    check_chat_template,
    discover_tokenizer,
)
from services.agent_runner.backends.slots import ServerSlots
from services.agent_runner.backends.structured import Unparseable, parse_review, review_schema
from services.agent_runner.config import AgentProfile, OpenAIConfig

log = structlog.get_logger("openai_backend")
MODES = ("json_schema", "json_object", "prompt")


def api_key(config: OpenAIConfig, agent_id: str) -> str | None:
    """The key from the environment variable the pool names (never from the pool file)."""
    if config.api_key_env is None:
        return None
    value = os.environ.get(config.api_key_env)
    if not value:
        raise ConfigError(f"agent {agent_id}: environment variable {config.api_key_env} is not set")
    return value


def response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "review", "schema": schema, "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def _shown_whole(shown: str, whole: str) -> str:
    """The lines of ``shown`` that occur in ``whole`` as they are."""
    return "\n".join(line for line in shown.splitlines() if line in whole)


class OpenAIBackend:
    simulated = False

    def __init__(
        self,
        profile: AgentProfile,
        session: aiohttp.ClientSession,
        *,
        slots_folder: Path | None = None,
    ) -> None:
        """``slots_folder``: where the runners of this host hold the servers' slots
        (``backends/slots.py``); the server's slots are held if the profile gives them."""
        if profile.openai is None:
            raise ConfigError(f"agent {profile.id} has no [agents.openai] table")
        self.profile = profile
        self.config = profile.openai
        slots = None
        if slots_folder is not None and self.config.server_slots is not None:
            slots = ServerSlots(
                slots_folder,
                self.config.base_url,
                self.config.server_slots,
                wait_s=self.config.timeout_s,  # a wait for a slot as long as a call may take
            )
        self.client = ChatClient(
            session,
            self.config,
            api_key=api_key(self.config, profile.id),
            concurrency=profile.max_concurrency,
            slots=slots,
        )
        configured = self.config.structured_output
        self.modes = list(MODES) if configured == "auto" else [configured]
        self.session = session
        self._tokenizer: Tokenizer | None = None
        self._tokenizer_known = False
        self._discovery = asyncio.Lock()

    async def tokenizer(self) -> Tokenizer | None:
        """The server's tokenizer, looked for once per runner."""
        async with self._discovery:
            if not self._tokenizer_known:
                self._tokenizer = await discover_tokenizer(
                    self.session, self.config.base_url, self.client.headers
                )
                self._tokenizer_known = True
        return self._tokenizer

    async def inspect(self, stop: asyncio.Event) -> None:
        """At start: find the tokenizer, and warn once if the chat template will not carry
        the system prompt (not asked when ``fold_system`` already sends none). Then idle
        until the runner stops (it runs as one of the runner's background tasks)."""
        tokenizer = await self.tokenizer()
        if not self.config.fold_system:
            await check_chat_template(
                self.session,
                self.config.base_url,
                self.client.headers,
                tokenizer.kind if tokenizer else None,
                self._prompt_tokens,
            )
        await stop.wait()

    async def _prompt_tokens(self, messages: list[prompts.ChatMessage]) -> int | None:
        try:
            result = await self.client.complete(messages, max_tokens=1)
        except BackendError:
            return None
        return result.input_tokens if result.usage_reported else None

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        messages = prompts.propose_messages(request)
        sampling = request.task.sampling
        # The task may ask for less than the agent's limit, never for more.
        max_tokens = min(self.config.max_tokens, sampling.max_tokens or self.config.max_tokens)
        grammar = None
        if self.config.answer_grammar:
            grammar = answer_grammar(request.task.answer_format, max_tokens)
        result = await self.client.complete(
            messages, max_tokens=max_tokens, grammar=grammar, temperature=sampling.temperature
        )
        if not result.content.strip():
            raise BackendError(f"the model returned an empty answer ({result.finish_reason})")
        return ProposalDraft(
            content=result.content,
            reasoning=result.reasoning,
            input_tokens=self._input_tokens(result, messages),
            output_tokens=result.output_tokens,
            latency_s=result.latency_s,
        )

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        started = time.perf_counter()
        budget = await self._candidate_budget(request)
        # A quote may be any piece of the candidate as the prompt shows it that is also in
        # its whole text (what validation checks it against): none across a middle cut.
        schema = review_schema(
            [(c.label, _shown_whole(prompts.fitted(c.content, budget), c.content))
             for c in request.candidates]
        )  # fmt: skip
        messages = prompts.review_messages(request, json_schema=schema, candidate_tokens=budget)
        result = await self._structured(messages, schema)
        try:
            entries, notes = parse_review(result.content)
        except Unparseable as exc:
            raise BackendError(f"unreadable review: {exc}") from exc
        return ReviewDraft(
            entries=tuple(entries),
            input_tokens=self._input_tokens(result, messages),
            output_tokens=result.output_tokens,
            latency_s=time.perf_counter() - started,
            notes=tuple(notes),
        )

    async def _structured(
        self, messages: list[prompts.ChatMessage], schema: dict[str, Any]
    ) -> ChatResult:
        while True:
            mode = self.modes[0]
            try:
                return await self.client.complete(
                    messages,
                    max_tokens=self.config.review_max_tokens,
                    response_format=response_format(mode, schema),
                )
            except StructuredOutputRefused as exc:
                if len(self.modes) == 1:
                    raise BackendError(f"structured output {mode!r} refused: {exc}") from exc
                self.modes.pop(0)
                log.info(
                    "structured_output_step_down",
                    refused=mode,
                    next=self.modes[0],
                    reason=str(exc)[:200],
                )

    async def _candidate_budget(self, request: ReviewRequested) -> int | None:
        """Each fenced text's cap (in estimated tokens, the unit ``shorten_middle`` cuts in)
        so that the prompt fits the window left after the answer, counted as the server
        counts, or None when everything fits as it is."""
        count = await self._counter()
        window = self.profile.context_window - self.config.review_max_tokens
        whole = prompts.review_messages(request)
        full = await count(whole)
        if full <= window:
            return None
        bare = prompts.review_messages(request, candidate_tokens=0)
        frame = await count(bare)
        texts = max(prompts.fitted_texts(request), 1)
        # Real tokens per estimated token over the fenced texts: number-dense text can cost
        # twice the estimate, so the cap is scaled by what this prompt's texts really cost.
        estimated = prompts.prompt_tokens(whole) - prompts.prompt_tokens(bare)
        ratio = max((full - frame) / max(estimated, 1), 0.25)
        budget = max(int((window - frame) / texts / ratio), 16)
        for _ in range(3):  # a cut text need not cost what the whole did: check and shrink
            fitted = await count(prompts.review_messages(request, candidate_tokens=budget))
            if fitted <= window or budget == 16:
                break
            budget = max(int(budget * (window - frame) / max(fitted - frame, 1) * 0.95), 16)
        return budget

    async def _counter(self) -> Callable[[list[prompts.ChatMessage]], Awaitable[int]]:
        tokenizer = await self.tokenizer()

        async def count(messages: list[prompts.ChatMessage]) -> int:
            counted = await tokenizer.count_messages(messages) if tokenizer else None
            if counted is None:
                counted = math.ceil(prompts.prompt_tokens(messages) * (1 + ESTIMATE_MARGIN))
            return counted

        return count

    def _input_tokens(self, result: ChatResult, messages: list[prompts.ChatMessage]) -> int:
        return result.input_tokens if result.usage_reported else prompts.prompt_tokens(messages)

    async def aclose(self) -> None:
        return None
