"""The gateway's aiohttp Application: middlewares, the API's routes, the web view's hook.

    /v1/models, /v1/chat/completions   the OpenAI-compatible API (``routes.py``); behind
                                       ``NSED_GATEWAY_API_KEYS`` when that is set
    everything else                    the web view (``web.add_web_routes(app, feed)``)

Every error under ``/v1/`` is an OpenAI error body (``errors.py``) with its status.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry import trace

from services.gateway import routes
from services.gateway.errors import GatewayError, InvalidRequest, NotFound, Unauthorized
from services.gateway.feed import Feed
from services.gateway.handlers import Council
from services.gateway.web import WebOptions, add_web_routes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API_PREFIX = "/v1/"


def build_app(
    council: Council,
    feed: Feed,
    keys: frozenset[str],
    tracer: trace.Tracer,
    web_options: WebOptions | None = None,
) -> web.Application:
    app = web.Application(middlewares=[openai_errors, require_key(keys)])
    app.add_routes(routes.routes(council, tracer))
    add_web_routes(app, feed, web_options)
    return app


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under ``/v1/``, every error is OpenAI's ``{"error": {...}}`` with its status: the
    gateway's own, and aiohttp's (an unknown path, a wrong method)."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except GatewayError as exc:
        return exc.response()
    except web.HTTPNotFound:
        return NotFound(f"no route {request.method} {request.path}").response()
    except web.HTTPMethodNotAllowed:
        return InvalidRequest(f"{request.method} is not allowed on {request.path}").response(405)


def require_key(keys: frozenset[str]) -> Middleware:
    """With keys configured, a request under ``/v1/`` must carry one as a bearer token."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if keys and request.path.startswith(API_PREFIX):
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            # Compared in constant time: the comparison must not tell how much of a key fit.
            if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
                raise Unauthorized("missing or wrong API key (Authorization: Bearer <key>)")
        return await handler(request)

    return middleware
