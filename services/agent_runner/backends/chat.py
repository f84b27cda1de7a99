"""An OpenAI-compatible chat-completions client over aiohttp: timeouts, retries, errors.

    POST {base_url}/chat/completions
      429, 5xx, timeouts, refused connections, truncated or malformed bodies
            → retried, up to ``max_retries`` times, after a full-jitter exponential backoff
              (``Retry-After`` is honoured when the server sends it)
      401 / 403 → BackendError: authentication failed (which variable holds the key)
      404       → BackendError: the model (or the URL) is not found there
      other 4xx → BackendError with the server's message
      a rejection of ``response_format`` → ``StructuredOutputRefused`` (the caller steps
              down to the next structured-output mode; not a retry)

At most the agent's ``max_concurrency`` calls run at once, and each attempt holds one of
the server's slots (``slots.py``) when the pool says how many it has.

Usage comes from the response's ``usage``; when a server leaves it out, the project's
token estimator stands in and the result says so. Reasoning text (``reasoning_content``,
``reasoning`` or a leading ``<think>…</think>``) is kept apart from the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.agent_runner.backends.base import BackendError
from services.agent_runner.backends.slots import ServerSlots
from services.agent_runner.config import OpenAIConfig
from services.agent_runner.prompts import ChatMessage, fold_system
from services.core.tokens import estimate_tokens

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


class StructuredOutputRefused(BackendError):
    """The server does not take this form of ``response_format``."""


@dataclass(frozen=True)
class ChatResult:
    content: str
    reasoning: str | None
    input_tokens: int
    output_tokens: int
    finish_reason: str | None
    usage_reported: bool
    attempts: int
    latency_s: float


class ChatClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: OpenAIConfig,
        *,
        api_key: str | None,
        concurrency: int,
        slots: ServerSlots | None = None,
        sleep: Any = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", **config.headers}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.limit = asyncio.Semaphore(concurrency)  # this agent's calls
        self.slots = slots  # the server's, shared with the other agents that call it
        self.timeout = aiohttp.ClientTimeout(
            total=config.timeout_s, sock_connect=config.connect_timeout_s
        )
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        response_format: Mapping[str, Any] | None = None,
        grammar: str | None = None,
        temperature: float | None = None,
    ) -> ChatResult:
        """One call; ``temperature`` (a task's own) replaces the agent's when given."""
        if self.config.fold_system:
            messages = fold_system(messages)
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            **self.config.extra_body,
        }
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if response_format is not None:
            body["response_format"] = dict(response_format)
        if grammar is not None:
            body["grammar"] = grammar
        started = time.perf_counter()
        async with self.limit:
            attempts = 0
            while True:
                attempts += 1
                try:
                    async with self._slot():
                        payload = await self._post(body)
                except _Transient as exc:
                    if attempts > self.config.max_retries:
                        raise BackendError(f"{exc} (gave up after {attempts} attempts)") from exc
                    await self._sleep(self._backoff(attempts, exc.retry_after))
                    continue
                return self._result(payload, attempts, time.perf_counter() - started)

    def _slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """One of the server's slots for one attempt: a retry's backoff leaves it free."""
        return self.slots.hold() if self.slots is not None else contextlib.nullcontext()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.max_backoff_s)
        cap = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)  # full jitter: replicas do not retry in lockstep

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        where = self.config.base_url
        try:
            async with self.session.post(
                self.url, json=body, headers=self.headers, timeout=self.timeout
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise _Transient(f"{where} did not answer within {self.config.timeout_s:g}s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise _Transient(f"cannot reach {where}: {exc.os_error or exc}") from exc
        except aiohttp.ClientPayloadError as exc:
            raise _Transient(f"{where} sent a truncated response: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise _Transient(f"request to {where} failed: {type(exc).__name__}: {exc}") from exc
        if status >= 400:
            self._raise_for(status, text, retry_after)
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise _Transient(f"{where} sent a malformed JSON body ({len(text)} bytes)") from exc
        if not isinstance(payload, dict) or not payload.get("choices"):
            raise _Transient(f"{where} sent a response without choices")
        return payload

    def _raise_for(self, status: int, text: str, retry_after: float | None) -> None:
        where = self.config.base_url
        message = _error_message(text)
        lowered = text.lower()
        if "response_format" in lowered or "json_schema" in lowered:
            raise StructuredOutputRefused(f"HTTP {status}: {message}")
        if status in (401, 403):
            key = self.config.api_key_env
            hint = f"check ${key}" if key else "set api_key_env to the variable holding the key"
            raise BackendError(f"authentication failed at {where} (HTTP {status}): {hint}")
        if status == 404:
            if "model" in lowered:
                raise BackendError(
                    f"model {self.config.model!r} not found at {where} (HTTP 404): {message}"
                )
            raise BackendError(f"{self.url} not found (HTTP 404): check base_url")
        if status in RETRYABLE_STATUS:
            raise _Transient(f"{where} answered HTTP {status}: {message}", retry_after)
        raise BackendError(f"{where} rejected the request (HTTP {status}): {message}")

    def _result(self, payload: dict[str, Any], attempts: int, latency: float) -> ChatResult:
        choice = payload["choices"][0]
        message = choice.get("message") or {}
        content = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning") or None
        thought = _THINK.match(content)
        if thought:
            reasoning = (reasoning or "") + thought.group(1).strip()
            content = content[thought.end() :]
        usage = payload.get("usage") or {}
        reported = isinstance(usage.get("prompt_tokens"), int) and isinstance(
            usage.get("completion_tokens"), int
        )
        return ChatResult(
            content=content,
            reasoning=reasoning,
            input_tokens=usage["prompt_tokens"] if reported else 0,
            output_tokens=(
                usage["completion_tokens"]
                if reported
                else estimate_tokens(content) + estimate_tokens(reasoning or "")
            ),
            finish_reason=choice.get("finish_reason"),
            usage_reported=reported,
            attempts=attempts,
            latency_s=latency,
        )


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _error_message(text: str) -> str:
    """The server's own error message, short, whatever the shape of its error body."""
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)[:300]
        return str(error)[:300]
    return str(data)[:300]
