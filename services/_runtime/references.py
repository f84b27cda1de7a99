"""Reference answers, the simulation's oracle, in the KV bucket ``nsed_references`` (one
key per task id, the answer as UTF-8): written by the broker when it accepts a task that
has one, read by simulated agent runners only.

They live apart from the deliberation records so that no agent's principal needs to read
a record (every proposal, review and ballot of a task is in it).
"""

from __future__ import annotations

from typing import Protocol

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from services._runtime.retry import retryable


class ReferenceStore(Protocol):
    async def put(self, task_id: str, answer: str) -> None:
        """Keep ``answer`` as the task's reference (again: the same value, idempotently)."""
        ...

    async def get(self, task_id: str) -> str | None: ...


class KvReferenceStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def put(self, task_id: str, answer: str) -> None:
        with retryable("reference write"):
            await self._kv.put(task_id, answer.encode())

    async def get(self, task_id: str) -> str | None:
        try:
            with retryable("reference read"):
                entry = await self._kv.get(task_id)
        except KeyNotFoundError:  # also a deleted or purged key
            return None
        return entry.value.decode() if entry.value is not None else None


class InMemoryReferenceStore:
    """The same contract without NATS, for handler tests and offline studies."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.writes = 0

    async def put(self, task_id: str, answer: str) -> None:
        self.answers[task_id] = answer
        self.writes += 1

    async def get(self, task_id: str) -> str | None:
        return self.answers.get(task_id)
