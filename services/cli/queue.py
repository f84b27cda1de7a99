"""Where a submitted task stands on ``NSED_TASKS`` before the broker starts it.

Consumes the task's stream position (from its publish acknowledgement) and the broker's
durable consumer on ``NSED_TASKS`` (``broker-tasks``): the last position it took, and what
it has acknowledged. Emits how many tasks are ahead of this one (None once the broker has
taken it: it then waits, unstarted, for room in the pool), and whether the queue moved
since the last look. A client waits as long as the queue moves: a busy pool works through
it at its own pace, while a queue that stands still means no broker takes tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client

from schemas import subjects

BROKER_CONSUMER = "broker-tasks"


def ahead(task_seq: int, taken_seq: int) -> int | None:
    """Tasks the broker takes before this one; None once it has taken this one (pure).
    The stream holds tasks only, and the broker takes them in stream order."""
    return task_seq - taken_seq - 1 if task_seq > taken_seq else None


@dataclass
class QueueWatch:
    seq: int  # the task's position on NSED_TASKS
    _last: tuple[int, int, int] | None = None  # (taken, acknowledged, in hand) at the last look

    async def look(self, nc: Client) -> tuple[int | None, bool]:
        """(tasks ahead, whether the broker took or started any task since the last look;
        at the first look, True: the task has only just joined the queue)."""
        info = await nc.jetstream().consumer_info(subjects.NSED_TASKS, BROKER_CONSUMER)
        now = (info.delivered.stream_seq or 0, info.ack_floor.stream_seq or 0,
               info.num_ack_pending or 0)  # fmt: skip
        moved = now != self._last
        self._last = now
        return ahead(self.seq, now[0]), moved
