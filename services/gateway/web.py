"""The live web view: HTML pages over the gateway's read side (``feed.Feed``).

Placeholder: the view (``/`` and ``/deliberations/<task_id>``) replaces this module. Its
one entry point is ``add_web_routes(app, feed)``, called by ``app.build_app`` with the
``Feed`` the API uses; it may add routes and static files, and must not add any under
``/v1/``.
"""

from __future__ import annotations

from aiohttp import web

from services.gateway.feed import Feed


def add_web_routes(app: web.Application, feed: Feed) -> None:
    """No pages yet."""
    del app, feed
