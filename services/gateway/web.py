"""The live web view, served by the gateway: HTML pages over its read side (``feed.Feed``).

    GET /                                   running and recent deliberations, the live pool
    GET /deliberations/<task_id>            one deliberation, rendered on the server
    GET /deliberations/<task_id>/events     server-sent events: its body, again after each
                                            change ("body"), then "end" once it has ended
    GET /static/...                         the CSS and the live script (package files)

Consumes the feed (records, the pool, a task's events and result) and the task's stored
events (``replay.stored_events``); emits HTML and ``text/event-stream``. Adds nothing under
``/v1/``. A finished deliberation's page is complete without JavaScript; a running one's
script only swaps in each newer body the server rendered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from schemas.base import TOKEN_PATTERN
from schemas.record import DeliberationRecord
from services.gateway import pages
from services.gateway.feed import Feed
from services.gateway.replay import ReplayTimeout, stored_events
from services.gateway.timeline import Timeline

log = structlog.get_logger("gateway.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
# A burst of events (a round's proposals, a replay) becomes one update, at most this often.
UPDATE_EVERY_S = 0.25
# A live stream ends after this long; the browser's EventSource then opens a new one.
LIVE_MAX_S = 3600.0
_TOKEN = re.compile(TOKEN_PATTERN)
RETRY = {"Retry-After": "5"}


@dataclass(frozen=True)
class WebOptions:
    jaeger_url: str = ""  # the Jaeger UI's base URL: each deliberation links its trace
    recent_limit: int = 100


FEED = web.AppKey("web_feed", Feed)
OPTIONS = web.AppKey("web_options", WebOptions)
CLOSING = web.AppKey("web_closing", asyncio.Event)


def add_web_routes(app: web.Application, feed: Feed, options: WebOptions | None = None) -> None:
    app[FEED] = feed
    app[OPTIONS] = options or WebOptions()
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_closing)
    app.router.add_get("/", index)
    app.router.add_get("/deliberations/{task_id}", deliberation)
    app.router.add_get("/deliberations/{task_id}/events", live)
    app.router.add_static("/static", STATIC_DIR)


async def _closing(app: web.Application) -> None:
    # Live streams never end of their own accord: shutdown ends them before it waits for
    # the requests in flight.
    app[CLOSING].set()


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def index(request: web.Request) -> web.Response:
    feed, options = request.app[FEED], request.app[OPTIONS]
    rows = feed.recent(options.recent_limit)
    return html(pages.index_page(rows, feed.live_agents(), feed.registry.unhealthy()))


async def deliberation(request: web.Request) -> web.Response:
    task_id = request.match_info["task_id"]
    try:
        found = await load(request.app[FEED], task_id) if _TOKEN.match(task_id) else None
    except ReplayTimeout as exc:
        raise web.HTTPServiceUnavailable(text=f"{exc}; try again", headers=RETRY) from exc
    if found is None:
        return html(pages.not_found_page(task_id), status=404)
    timeline, record = found
    return html(pages.deliberation_page(timeline, record, request.app[OPTIONS].jaeger_url))


async def load(feed: Feed, task_id: str) -> tuple[Timeline, DeliberationRecord | None] | None:
    """The task's record and every event stored now, with its result; None if the server
    knows nothing of it."""
    record = await feed.record(task_id)
    events: list[Any] = await stored_events(feed.js, task_id)
    result = await feed.result(task_id)
    if record is None and not events and result is None:
        return None
    timeline = Timeline(task_id=task_id)
    for event in [*events, result]:
        timeline.apply(event)
    return timeline, record


async def live(request: web.Request) -> web.StreamResponse:
    task_id = request.match_info["task_id"]
    feed, options = request.app[FEED], request.app[OPTIONS]
    if not _TOKEN.match(task_id) or not await _known(feed, task_id):
        return html(pages.not_found_page(task_id), status=404)
    async with sse_response(request) as stream:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LIVE_MAX_S):
                await _follow(stream, feed, task_id, request.app[CLOSING], options.jaeger_url)
        return stream


async def _known(feed: Feed, task_id: str) -> bool:
    return await feed.record(task_id) is not None or await feed.result(task_id) is not None


async def _follow(
    stream: EventSourceResponse, feed: Feed, task_id: str, closing: asyncio.Event, jaeger: str
) -> None:
    timeline = Timeline(task_id=task_id)
    changed = asyncio.Event()
    ended = asyncio.Event()

    async def pull(events: AsyncIterator[Any]) -> None:
        async for event in events:
            if timeline.apply(event):
                changed.set()
        ended.set()

    async with feed.follow(task_id) as events:
        puller = asyncio.create_task(pull(events))
        stop = asyncio.create_task(closing.wait())
        try:
            while not ended.is_set():
                waiting = asyncio.create_task(changed.wait())
                await asyncio.wait({waiting, puller, stop}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if puller.done() and not ended.is_set() and not puller.cancelled():
                    log.warning("live_view_failed", task_id=task_id, error=repr(puller.exception()))
                    return  # the browser reconnects
                if stop.done():
                    return
                changed.clear()
                if not ended.is_set():
                    record = await feed.record(task_id)
                    await stream.send(
                        pages.deliberation_body(timeline, record, jaeger), event="body"
                    )
                    await asyncio.sleep(UPDATE_EVERY_S)
        finally:
            for task in (puller, stop):
                task.cancel()
            await asyncio.gather(puller, stop, return_exceptions=True)
    # The result can overtake the replay of the events (two streams): the last body is
    # built from the events stream read to its end.
    found = await load(feed, task_id)
    if found is not None:
        final, record = found
        await stream.send(pages.deliberation_body(final, record, jaeger), event="body")
    await stream.send("ended", event="end")
    log.info("live_view_ended", task_id=task_id)
