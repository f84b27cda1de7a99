"""The API's routes: method and path → the function that answers it.

    GET  /v1/models              the models (``Council.models``)
    POST /v1/chat/completions    a chat → a task (``conversation``), deliberated
                                 (``Council.deliberate``), answered as one JSON body or,
                                 with ``"stream": true``, as server-sent chunks
                                 (``replies``): the rounds as ``reasoning_content``, then
                                 the answer, then ``data: [DONE]``

Each chat request is one span, kind SERVER: the root of its task's trace, or a child of
the caller's ``traceparent``. A stream is opened only once the team is known, so that a
task no team can serve is still a 503, not a stream that fails.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from aiohttp import web
from aiohttp_sse import EventSourceResponse
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from schemas.gate import DeliberationConcluded
from schemas.task import TaskSubmitted
from services._runtime import tracing
from services.gateway import conversation, replies
from services.gateway.conversation import ChatRequest
from services.gateway.errors import TASK_HEADER, GatewayError
from services.gateway.handlers import Council

log = structlog.get_logger("gateway")
DONE = "[DONE]"


def routes(council: Council, tracer: trace.Tracer) -> list[web.RouteDef]:
    async def models(_: web.Request) -> web.Response:
        return web.json_response(council.models())

    async def chat(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        chat = conversation.parse(await request.read())
        task = conversation.to_task(chat)
        council.check_pool()
        parent = tracing.parse_traceparent(request.headers.get(tracing.TRACEPARENT))
        with tracer.start_as_current_span(
            f"chat {chat.model}",
            context=tracing.as_context(parent) if parent is not None else None,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "url.path": request.path,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": chat.model,
                "nsed.task_id": str(task.task_id),
                "nsed.stream": chat.stream,
            },
        ) as span:
            outcome = Outcome()
            try:
                events = council.deliberate(task, tracing.current_traceparent())
                async with contextlib.aclosing(events):
                    answer = stream if chat.stream else whole
                    response, outcome = await answer(request, chat, task, events)
                return response
            except GatewayError as exc:
                outcome.error = exc
                exc.task_id = task.task_id
                raise
            finally:
                if outcome.error is not None:
                    span.set_status(Status(StatusCode.ERROR, outcome.error.message))
                span.set_attribute("nsed.outcome", outcome.name())
                log.info(
                    "chat_completion",
                    task_id=task.task_id,
                    model=chat.model,
                    stream=chat.stream,
                    outcome=outcome.name(),
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return [web.get("/v1/models", models), web.post("/v1/chat/completions", chat)]


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@dataclass
class Outcome:
    """How a request ended: its task's result, or the error it was answered with."""

    result: DeliberationConcluded | None = None
    error: GatewayError | None = None

    def name(self) -> str:
        if self.error is not None:
            return f"http_{self.error.status}"
        return self.result.status if self.result is not None else "none"


async def whole(
    request: web.Request, chat: ChatRequest, task: TaskSubmitted, events: AsyncIterator[Any]
) -> tuple[web.StreamResponse, Outcome]:
    lines = replies.Lines()
    reasoning: list[str] = []
    async for event in events:
        reasoning += lines.of(event)
        if isinstance(event, DeliberationConcluded):
            error = replies.error_for(event)
            if error is not None:
                raise error
            body = replies.completion(
                task, chat.model, event, "\n".join(reasoning), base_url(request)
            )
            headers = {TASK_HEADER: str(task.task_id)}
            return web.json_response(body, dumps=_dumps, headers=headers), Outcome(result=event)
    raise AssertionError("the events ended without a result")  # deliberate() never does


async def stream(
    request: web.Request, chat: ChatRequest, task: TaskSubmitted, events: AsyncIterator[Any]
) -> tuple[web.StreamResponse, Outcome]:
    """Chunks as the events come. Until the first is sent an error is the response's
    status; after it, the error is the stream's last chunk (OpenAI's ``{"error": …}``)."""
    lines = replies.Lines()
    response: EventSourceResponse | None = None
    outcome = Outcome()
    try:
        async for event in events:
            if isinstance(event, DeliberationConcluded):
                outcome.result = event
                outcome.error = replies.error_for(event)
                if outcome.error is not None and response is None:
                    raise outcome.error
            response = response or await _open(request, task, chat)
            text = "".join(f"{line}\n" for line in lines.of(event))
            if text:
                await _send(response, replies.chunk(task, chat.model, {"reasoning_content": text}))
            if outcome.result is not None:
                break
        # deliberate() ends with a result, and a response is open by then.
        assert response is not None
        assert outcome.result is not None
        if outcome.error is not None:
            await _send(response, outcome.error.body())
        else:
            await _finish(response, chat, task, outcome.result, base_url(request))
    except GatewayError as exc:
        if response is None:
            raise
        outcome.error = exc
        await _send(response, exc.body())
    finally:
        if response is not None:
            response.stop_streaming()  # its keep-alive pings
    return response, outcome


async def _open(
    request: web.Request, task: TaskSubmitted, chat: ChatRequest
) -> EventSourceResponse:
    response = EventSourceResponse(
        headers={TASK_HEADER: str(task.task_id)},
        allow_all_methods=True,  # SSE is GET only by default
        sep="\n",  # as OpenAI's own streams: clients that split on "\n\n" read them too
    )
    await response.prepare(request)
    await _send(response, replies.chunk(task, chat.model, {"role": "assistant", "content": ""}))
    return response


async def _finish(
    response: EventSourceResponse,
    chat: ChatRequest,
    task: TaskSubmitted,
    result: DeliberationConcluded,
    base: str,
) -> None:
    await _send(response, replies.chunk(task, chat.model, {"content": result.answer}))
    final = replies.chunk(
        task, chat.model, {}, finish_reason="stop", nsed=replies.nsed_info(result, base)
    )
    await _send(response, final)
    if chat.stream_options is not None and chat.stream_options.include_usage:
        await _send(response, replies.usage_chunk(task, chat.model, result))
    await response.send(DONE)


async def _send(response: EventSourceResponse, body: dict[str, Any]) -> None:
    await response.send(_dumps(body))


def _dumps(body: Any) -> str:
    return msgspec.json.encode(body).decode()
