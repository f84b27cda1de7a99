"""The gateway: the council as an OpenAI-compatible model, and a live view of it.

An aiohttp server (``python -m services.gateway``, ``127.0.0.1:$NSED_GATEWAY_PORT``, any
number of replicas: it keeps no state of its own). Its parts:

    app.py       the aiohttp Application: middlewares, the API routes, the web view hook
    feed.py      the read side: deliberation records, the live pool, a task's events
    web.py       the live web view's pages (``add_web_routes(app, feed)``)
    service.py   the composition root: runtime, feed, HTTP site, graceful drain
    settings.py  ``NSED_GATEWAY_*``
"""
