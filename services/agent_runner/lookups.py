"""What a runner looks up besides its work, none of it in a deliberation record (an agent's
principal may not read those): a task's reference answer from ``nsed_references`` (the
simulation's oracle, for simulated runners only), and whether a task has ended, from the
results stream (``nsed.concluded.<task_id>``, which clients may read anyway).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from schemas import subjects
from services._runtime.references import ReferenceStore
from services._runtime.retry import retryable
from services.agent_runner.backends.sim import TruthSource


def reference_reader(store: ReferenceStore, capacity: int) -> TruthSource:
    """The simulation's oracle: a task's reference answer, read once (the broker writes it
    before it dispatches round 1, so a task without one has none)."""
    cache: OrderedDict[str, str | None] = OrderedDict()

    async def read(task_id: str) -> str | None:
        if task_id in cache:
            cache.move_to_end(task_id)
            return cache[task_id]
        answer = await store.get(task_id)
        cache[task_id] = answer
        if len(cache) > capacity:
            cache.popitem(last=False)
        return answer

    return read


def ended_reader(js: JetStreamContext) -> Callable[[str], Awaitable[bool]]:
    """Whether a task has ended: the results stream holds its result (one last-message
    lookup before each paid call)."""

    async def ended(task_id: str) -> bool:
        try:
            with retryable("result lookup"):
                await js.get_last_msg(subjects.NSED_RESULTS, subjects.concluded(task_id))
        except NotFoundError:
            return False
        return True

    return ended
