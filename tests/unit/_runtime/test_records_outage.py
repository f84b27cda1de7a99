"""A record store whose NATS server is away: every read, create and compare-and-set that
gets no answer raises ``Retryable`` (the message is redelivered later), never the raw NATS
error that the worker would log as an unexpected failure with its traceback."""

from __future__ import annotations

from typing import Any

import msgspec
import nats.errors
import nats.js.errors
import pytest

from services._runtime.errors import Retryable
from services._runtime.records import KvRecordStore, KvStatsStore
from tests.unit.builders import record

TASK = record().task_id

AWAY = [
    nats.errors.TimeoutError(),
    nats.errors.NoRespondersError(),
    nats.js.errors.ServiceUnavailableError(),
]


class Entry:
    def __init__(self, value: bytes, revision: int) -> None:
        self.value = value
        self.revision = revision


class AwayKv:
    """A KeyValue whose ``fail`` operations raise ``error``; the others answer."""

    def __init__(self, error: Exception, fail: set[str], stored: bytes = b"") -> None:
        self.error = error
        self.fail = fail
        self.stored = stored

    def _maybe_fail(self, op: str) -> None:
        if op in self.fail:
            raise self.error

    async def get(self, key: str) -> Entry:
        self._maybe_fail("get")
        if not self.stored:
            raise nats.js.errors.KeyNotFoundError()
        return Entry(self.stored, 1)

    async def create(self, key: str, value: bytes) -> int:
        self._maybe_fail("create")
        return 1

    async def update(self, key: str, value: bytes, last: int) -> int:
        self._maybe_fail("update")
        return last + 1


def _ids(error: Exception) -> str:
    return type(error).__name__


@pytest.mark.parametrize("error", AWAY, ids=_ids)
async def test_a_read_nats_does_not_answer_is_retryable(error: Exception) -> None:
    store = KvRecordStore(AwayKv(error, {"get"}))  # type: ignore[arg-type]
    with pytest.raises(Retryable, match="record read"):
        await store.get(TASK)
    with pytest.raises(Retryable, match="record read"):
        await store.update(TASK, lambda r: r)


@pytest.mark.parametrize("error", AWAY, ids=_ids)
async def test_a_create_nats_does_not_answer_is_retryable(error: Exception) -> None:
    store = KvRecordStore(AwayKv(error, {"create"}))  # type: ignore[arg-type]
    with pytest.raises(Retryable, match="record create"):
        await store.create(record())


@pytest.mark.parametrize("error", AWAY, ids=_ids)
async def test_a_compare_and_set_nats_does_not_answer_is_retryable(error: Exception) -> None:
    stored = msgspec.json.encode(record())
    store = KvRecordStore(AwayKv(error, {"update"}, stored))  # type: ignore[arg-type]

    def change(r: Any) -> Any:
        return msgspec.structs.replace(r, intake_seq=7)

    with pytest.raises(Retryable, match="record write"):
        await store.update(TASK, change)


async def test_telemetry_that_nats_does_not_store_is_retryable() -> None:
    store = KvStatsStore(AwayKv(nats.errors.TimeoutError(), {"get"}))  # type: ignore[arg-type]
    with pytest.raises(Retryable):
        await store.apply("default", "alpha", lambda previous: previous)  # type: ignore[arg-type,return-value]


async def test_an_error_that_is_not_an_outage_passes_through() -> None:
    store = KvRecordStore(AwayKv(nats.js.errors.BadRequestError(), {"get"}))  # type: ignore[arg-type]
    with pytest.raises(nats.js.errors.BadRequestError):
        await store.get(TASK)
