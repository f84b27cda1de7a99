"""The API's routes: method and path → the function that answers it."""

from __future__ import annotations

from aiohttp import web

from services.gateway.handlers import Council


def routes(council: Council) -> list[web.RouteDef]:
    async def models(_: web.Request) -> web.Response:
        return web.json_response(council.models())

    return [web.get("/v1/models", models)]
