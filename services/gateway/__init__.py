"""The gateway: the council as an OpenAI-compatible model, and a live view of it.

An aiohttp server (``python -m services.gateway``, ``127.0.0.1:$NSED_GATEWAY_PORT``, any
number of replicas: it keeps no state of its own). Consumes HTTP requests, the task's
events and results, the deliberation records and the agent cards; emits tasks and
cancellations, as any client of NATS would. Its parts:

    app.py           the aiohttp Application: middlewares, the API routes, the web view hook
    routes.py        /v1/models and /v1/chat/completions (whole or streamed)
    conversation.py  a chat request → a task (pure)
    handlers.py      ``Council``: publish a task, follow it, cancel it if its client goes
    replies.py       OpenAI's reply, chunk and error shapes (pure)
    errors.py        the exception tree: one HTTP status and OpenAI error body per class
    feed.py          the read side: deliberation records, the live pool, a task's events
    outbox.py        what it publishes: tasks, cancellations
    web.py           the live web view's pages (``add_web_routes(app, feed)``)
    service.py       the composition root: runtime, feed, HTTP site, graceful drain
    settings.py      ``NSED_GATEWAY_*``
"""
