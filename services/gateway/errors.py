"""The gateway's exception tree: each class is one HTTP status and OpenAI error body.

    GatewayError                   {"error": {"message", "type", "param", "code"}}
    ├── InvalidRequest      400    a body that is not a chat request, or a bad ``nsed`` policy
    ├── Unauthorized        401    keys are configured and the request has none of them
    ├── NotFound            404    an unknown model (or path)
    ├── Failed              502    the deliberation ended without an answer (its detail)
    ├── NoTeam              503    no live agents, or no team the policy allows
    ├── Unavailable         503    NATS did not take the task in time
    └── DeadlineExceeded    504    no answer by the deadline

A streamed request that fails after its first chunk cannot change its status: the error
body is then its last event (the ``openai`` SDK raises it as an ``APIError``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from aiohttp import web

TASK_HEADER = "X-Nsed-Task-Id"  # on every chat reply, errors included


class GatewayError(Exception):
    status: ClassVar[int] = 500
    kind: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code
        self.task_id: str | None = None  # the task the request had published, if any

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self, status: int | None = None) -> web.Response:
        return web.Response(
            status=status or self.status,
            body=msgspec.json.encode(self.body()),
            content_type="application/json",
            headers={TASK_HEADER: self.task_id} if self.task_id else None,
        )


class InvalidRequest(GatewayError):
    status = 400
    kind = "invalid_request_error"


class Unauthorized(GatewayError):
    status = 401
    kind = "invalid_request_error"
    default_code = "invalid_api_key"


class NotFound(GatewayError):
    status = 404
    kind = "invalid_request_error"


class Failed(GatewayError):
    status = 502
    kind = "server_error"


class NoTeam(GatewayError):
    status = 503
    kind = "server_error"
    default_code = "no_team"


class Unavailable(GatewayError):
    status = 503
    kind = "server_error"


class DeadlineExceeded(GatewayError):
    status = 504
    kind = "timeout"
    default_code = "deadline"
