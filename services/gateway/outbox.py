"""What the gateway publishes, as any client would: tasks and cancellations.

Emits ``TaskSubmitted`` on ``nsed.tasks`` (with the request span's ``traceparent``, so the
deliberation's trace continues the gateway's) and ``CancelRequested`` on
``nsed.events.<task_id>.cancel``. Each publish waits for JetStream's acknowledgement,
within ``PUBLISH_TIMEOUT_S``.
"""

from __future__ import annotations

import uuid

import msgspec
import nats.errors
from nats.aio.client import Client

from schemas import subjects
from schemas.gate import CancelRequested
from schemas.task import TaskSubmitted
from services._runtime import tracing
from services.gateway.errors import Unavailable

PUBLISH_TIMEOUT_S = 5.0
MSG_ID = "Nats-Msg-Id"


class Outbox:
    def __init__(self, nc: Client) -> None:
        self.js = nc.jetstream(timeout=PUBLISH_TIMEOUT_S)

    async def submit(self, task: TaskSubmitted, traceparent: str | None) -> None:
        """One submission; its message id is its own (as ``nsed submit``'s), so the broker
        decides what the task id means, not the duplicate window."""
        headers = {MSG_ID: f"{task.task_id}:{uuid.uuid4().hex[:12]}"}
        if traceparent:
            headers[tracing.TRACEPARENT] = traceparent
        try:
            await self.js.publish(subjects.TASKS, msgspec.json.encode(task), headers=headers)
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise Unavailable(f"NATS did not take the task: {type(exc).__name__}") from exc

    async def cancel(self, task_id: str, reason: str) -> None:
        message = CancelRequested(
            task_id=task_id, round=0, message_id=f"{task_id}:cancel", reason=reason
        )
        await self.js.publish(
            subjects.subject_for(message),
            msgspec.json.encode(message),
            headers={MSG_ID: f"{task_id}:cancel:{uuid.uuid4().hex[:8]}"},
        )
