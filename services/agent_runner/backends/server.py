"""What an OpenAI-compatible server tells about itself: how it counts tokens, and whether
its chat template lets the system message through.

Consumes the pool's ``base_url`` (its root is the URL without ``/v1``) and the runner's
HTTP session. Emits a ``Tokenizer`` when the server has one (``discover_tokenizer``) and,
once at start, one warning line when the model's chat template is missing or drops the
system message (``check_chat_template``). What each server exposes:

  llama.cpp (``llama-server``)  GET /props → ``chat_template`` ("" when the model has none);
        POST /tokenize {"content"} → {"tokens": [...]}; POST /apply-template {"messages"} →
        {"prompt"}: whether a system message reaches the prompt, read off the prompt itself
  llama-cpp-python              POST /extras/tokenize/count {"input"} → {"count"}. No
        endpoint shows the model's metadata or chat format (/v1/models lists ids only), so
        two one-token completions, with and without a system message, tell by their
        ``prompt_tokens`` whether the system message reached the model
  others (vLLM, Ollama, OpenAI) nothing is asked: the ⌈chars/4⌉ estimate with
        ``ESTIMATE_MARGIN`` stands in, and no template check is made

Every request here has a short timeout and any failure means "not offered": discovery
never stops a runner.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import aiohttp
import structlog

from services.agent_runner.prompts import ChatMessage

log = structlog.get_logger("openai_backend")

# The ⌈chars/4⌉ estimate against Gemma 3's tokenizer (real tokens per estimated token):
# GSM8K questions 0.80–1.33 (mean 1.02), propose prompts 0.86–1.01, review prompts of the
# model's own output 0.98–1.10, GSM8K questions with their solutions 1.40 (digits are one
# token each), solutions alone mean 1.77, p95 2.29. Without a server tokenizer a prompt is
# fitted as if the estimate were 50% low: everything but number-dense text fits.
ESTIMATE_MARGIN = 0.5
# What a chat template adds around each message (role markers, turn delimiters).
TEMPLATE_TOKENS_PER_MESSAGE = 8
CACHE_SIZE = 256
PROBE_TIMEOUT_S = 10.0
PROBE_SYSTEM = "You are the probe. Reply with one word."
PROBE_USER = "Say ok."

ServerKind = Literal["llama.cpp", "llama-cpp-python"]


def server_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class Tokenizer:
    """The server's own token count of a text, cached per text (a review prompt is counted
    whole, then once more after fitting; retries count nothing new)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        root: str,
        kind: ServerKind,
        headers: Mapping[str, str],
    ) -> None:
        self.session = session
        self.kind = kind
        self.headers = dict(headers)
        self.url = root + ("/tokenize" if kind == "llama.cpp" else "/extras/tokenize/count")
        self._cache: OrderedDict[str, int] = OrderedDict()

    async def count(self, text: str) -> int | None:
        """Tokens in ``text`` as the model sees them, or None if the server did not say."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        body = {"content": text} if self.kind == "llama.cpp" else {"input": text}
        data = await _post_json(self.session, self.url, body, self.headers)
        found = _count_of(data)
        if found is not None:
            self._cache[text] = found
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    async def count_messages(self, messages: list[ChatMessage]) -> int | None:
        counts = [await self.count(m["content"]) for m in messages]
        if any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None) + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)


async def discover_tokenizer(
    session: aiohttp.ClientSession, base_url: str, headers: Mapping[str, str]
) -> Tokenizer | None:
    """The server's tokenizer, if it has one that answers (llama.cpp first: its /tokenize
    is at the root, where llama-cpp-python has nothing)."""
    root = server_root(base_url)
    kinds: tuple[ServerKind, ...] = ("llama.cpp", "llama-cpp-python")
    for kind in kinds:
        tokenizer = Tokenizer(session, root, kind, headers)
        if await tokenizer.count("ok") is not None:
            log.info("server_tokenizer", kind=kind, url=tokenizer.url)
            return tokenizer
    log.info("server_tokenizer_absent", fallback="estimate", margin=ESTIMATE_MARGIN)
    return None


Complete = Callable[[list[ChatMessage]], Awaitable[int | None]]


async def check_chat_template(
    session: aiohttp.ClientSession,
    base_url: str,
    headers: Mapping[str, str],
    kind: ServerKind | None,
    prompt_tokens: Complete,
) -> str | None:
    """Why the model's chat template will not carry the council's system prompt, or None
    when it does or nothing tells. ``prompt_tokens``: a one-token completion of the
    messages, returning the server's ``prompt_tokens``. Logs one warning when it finds one."""
    with_system = [
        ChatMessage(role="system", content=PROBE_SYSTEM),
        ChatMessage(role="user", content=PROBE_USER),
    ]
    problem: str | None = None
    if kind == "llama.cpp":
        root = server_root(base_url)
        props = await _get_json(session, root + "/props", headers)
        if isinstance(props, dict) and "chat_template" in props and not props["chat_template"]:
            problem = "the model has no chat template (the server applies its default)"
        applied = await _post_json(
            session, root + "/apply-template", {"messages": with_system}, headers
        )
        prompt = applied.get("prompt") if isinstance(applied, dict) else None
        if problem is None and isinstance(prompt, str) and PROBE_SYSTEM not in prompt:
            problem = "the chat template drops the system message"
    elif kind == "llama-cpp-python":
        both = await prompt_tokens(with_system)
        alone = await prompt_tokens(with_system[1:])
        if both is not None and alone is not None and both <= alone:
            problem = "the chat template drops the system message"
    if problem is not None:
        log.warning(
            "chat_template_problem",
            problem=problem,
            hint="set fold_system = true in [agents.openai] to send the council's "
            "instructions in the first user turn",
        )
    return problem


async def _get_json(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> Any:
    try:
        async with session.get(
            url, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        ) as response:
            return await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def _post_json(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: Mapping[str, str]
) -> Any:
    try:
        async with session.post(
            url,
            json=body,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S),
        ) as response:
            return await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


def _count_of(data: Any) -> int | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("count"), int):
        return int(data["count"])
    tokens = data.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None
