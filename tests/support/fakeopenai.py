"""A scripted OpenAI-compatible server (aiohttp, loopback) for fault and accounting tests.

Each request takes the next step of its model's script (then ``ok`` forever): ``ok``,
``429`` (with ``Retry-After``), ``500``, ``slow`` (answers after ``slow_s``), ``malformed``
(200 with a body that is not JSON), ``truncated`` (the connection closes mid-body),
``401``, ``404`` (unknown model), ``no_schema`` (refuses ``json_schema`` like some servers),
``template`` (a review that copies the prompt's placeholders, as a tiny model under a
grammar does), ``ramble`` (a proposal that states no final answer). It counts the chat
requests it is answering at once (``most_in_flight``).
An ``ok`` proposal answers "Final answer: \\boxed{42}"; an ``ok`` review scores every label
the prompt lists, quoting a line of the candidates. Every ``ok`` reports its usage, and the
server keeps the totals.

``tokenizer`` makes it speak like a local server: "llama.cpp" (``/props`` with
``chat_template``, ``/tokenize``, ``/apply-template``) or "llama-cpp-python"
(``/extras/tokenize/count``); it counts ``chars_per_token`` characters a token, and so
does the ``prompt_tokens`` it reports. ``drops_system``: the chat template drops system
messages (from what ``prompt_tokens`` and ``/apply-template`` say).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.loopback import LoopbackServer

_LABELS = re.compile(r"Score every candidate \(([^)]*)\)")
PROPOSAL = "I multiplied carefully.\nFinal answer: \\boxed{42}"


@dataclass
class Reported:
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0


@dataclass
class FakeOpenAI(LoopbackServer):
    scripts: dict[str, list[str]] = field(default_factory=dict)  # model -> steps
    slow_s: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    reported: dict[str, Reported] = field(default_factory=lambda: defaultdict(Reported))
    tokenizer: str | None = None  # "llama.cpp" | "llama-cpp-python" | None
    chars_per_token: float = 10.0
    drops_system: bool = False
    chat_template: str = "{{ messages }}"
    # every request to an endpoint other than chat, in order: (path, the text it was sent)
    paths: list[tuple[str, str]] = field(default_factory=list)
    in_flight: int = 0  # chat requests being answered now, and the most there ever were
    most_in_flight: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        if self.tokenizer == "llama.cpp":
            app.router.add_get("/props", self._props)
            app.router.add_post("/tokenize", self._tokenize)
            app.router.add_post("/apply-template", self._apply_template)
        elif self.tokenizer == "llama-cpp-python":
            app.router.add_post("/extras/tokenize/count", self._count)

    def count(self, text: str) -> int:
        return int(len(text) / self.chars_per_token)

    def templated(self, messages: list[dict[str, Any]]) -> str:
        kept = [m for m in messages if not (self.drops_system and m.get("role") == "system")]
        return "\n".join(m.get("content", "") for m in kept)

    async def _props(self, request: web.Request) -> web.StreamResponse:
        self.paths.append((request.path, ""))
        return web.json_response({"chat_template": self.chat_template, "total_slots": 1})

    async def _tokenize(self, request: web.Request) -> web.StreamResponse:
        text = (await request.json())["content"]
        self.paths.append((request.path, text))
        return web.json_response({"tokens": list(range(self.count(text)))})

    async def _count(self, request: web.Request) -> web.StreamResponse:
        text = (await request.json())["input"]
        self.paths.append((request.path, text))
        return web.json_response({"count": self.count(text)})

    async def _apply_template(self, request: web.Request) -> web.StreamResponse:
        messages = (await request.json())["messages"]
        self.paths.append((request.path, ""))
        return web.json_response({"prompt": self.templated(messages)})

    def seen(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer_chat(request)
        finally:
            self.in_flight -= 1

    async def _answer_chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        model = body.get("model", "")
        script = self.scripts.get(model, [])
        step = script.pop(0) if script else "ok"
        if step == "429":
            return web.json_response({"error": {"message": "rate limited"}}, status=429,
                                     headers={"Retry-After": "0.05"})  # fmt: skip
        if step == "500":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if step == "401":
            return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        if step == "404":
            message = f"The model `{model}` does not exist"
            return web.json_response({"error": {"message": message}}, status=404)
        if step == "no_schema":
            if body.get("response_format", {}).get("type") == "json_schema":
                return web.json_response(
                    {"error": {"message": "response_format.type json_schema not supported"}},
                    status=400,
                )
            step = "ok"
        if step == "slow":
            await asyncio.sleep(self.slow_s)
        if step == "malformed":
            return web.Response(
                status=200, text='{"choices": [ {"message": ', content_type="application/json"
            )
        if step == "truncated":
            headers = {"Content-Length": "4000", "Content-Type": "application/json"}
            response = web.StreamResponse(status=200, headers=headers)
            await response.prepare(request)
            await response.write(b'{"choices": [{"message": {"content": "Fin')
            if request.transport is not None:
                request.transport.close()
            return response
        return web.json_response(self._answer(model, body, step))

    def _answer(self, model: str, body: dict[str, Any], step: str = "ok") -> dict[str, Any]:
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
        labels = _LABELS.search(prompt)
        if labels:
            names = [n.strip() for n in labels.group(1).split(",") if n.strip()]
            template = step == "template"
            reviews = [
                {"label": name, "weight": 80 if i == 0 else -20,
                 "justification": "<why>" if template else f"{name} multiplies correctly",
                 "claims": [{"quote": "<verbatim text from the candidate>" if template
                             else PROPOSAL.splitlines()[0], "verdict": "verified"}]}
                for i, name in enumerate(names)
            ]  # fmt: skip
            content = json.dumps({"reviews": reviews})
        elif step == "ramble":
            content = "Let me think. 6 times 7 is 42, and 42 is the product."
        else:
            content = PROPOSAL
        usage = {
            "prompt_tokens": 100 + self.count(self.templated(body.get("messages", []))),
            "completion_tokens": 7 + len(content) // 20,
        }
        totals = self.reported[model]
        totals.input_tokens += usage["prompt_tokens"]
        totals.output_tokens += usage["completion_tokens"]
        totals.calls += 1
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {**usage, "total_tokens": sum(usage.values())},
        }  # fmt: skip
