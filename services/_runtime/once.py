"""Client-facing messages published once: what a plain subscriber of ``nsed.results.>``
receives exactly once, even when two handlers emit the same result at the same moment.

A plain subscriber receives every publish, repeats included (the stream's duplicate
window drops a repeat only from the stream). So a client-facing message is published only
if the stream does not hold it yet (the stream is the witness that subscribers have it),
and only by the one publisher that holds its claim:

- in this process, one publisher per message id at a time: two deliveries of one tally,
  committed in one batch by the record store, emit the result together;
- across replicas, a claim made in the KV bucket ``nsed_claims`` (create-if-absent is
  atomic). A replica that finds another's claim tries again later (``Retryable``), when
  the stream holds the message or the claim has lapsed (``CLAIM_LEASE_S``, the bucket's
  age limit: its holder died before publishing). After a NATS restart two replicas can
  hold deliveries of the same tally at once: the server forgets deliveries it had not
  yet written to disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from schemas import subjects
from services._runtime.errors import Retryable
from services._runtime.retry import TRANSIENT, retryable

MSG_ID = "Nats-Msg-Id"
CLAIM_LEASE_S = 30.0
RECHECK_S = (1.0, 5.0)  # a claim's loser looks again within these bounds


class PublishOnce:
    def __init__(
        self,
        js: JetStreamContext,
        kv: Callable[[str], Awaitable[KeyValue]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.js = js
        self._kv = kv
        self.clock = clock
        self.token = uuid.uuid4().hex  # this publisher's claims, across its own retries
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def publish(
        self, stream: str, subject: str, msg_id: str, send: Callable[[], Awaitable[None]]
    ) -> None:
        async with self._one_at_a_time(msg_id):
            if await self._holds(stream, subject, msg_id):
                return
            lapses_in = await self.claim(msg_id)
            if lapses_in is not None:
                delay = min(max(lapses_in, RECHECK_S[0]), RECHECK_S[1])
                raise Retryable(f"another replica is publishing {msg_id}", delay=delay)
            await send()

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, msg_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(msg_id, (asyncio.Lock(), 0))
        self._locks[msg_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[msg_id]
            if users == 1:
                del self._locks[msg_id]
            else:
                self._locks[msg_id] = (lock, users - 1)

    async def _holds(self, stream: str, subject: str, msg_id: str) -> bool:
        """Whether the last message ``stream`` holds on ``subject`` has id ``msg_id``."""
        try:
            last = await self.js.get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
        except TRANSIENT as exc:
            raise Retryable(f"lookup not answered: {type(exc).__name__}", delay=1.0) from exc
        return bool((last.headers or {}).get(MSG_ID) == msg_id)

    async def claim(self, msg_id: str) -> float | None:
        """Claim ``msg_id`` for this publisher: None if it holds the claim (made now or on
        an earlier try of its own), else the seconds until the holder's claim lapses."""
        key = claim_key(msg_id)
        with retryable("claim"):
            kv = await self._kv(subjects.CLAIMS_BUCKET)  # looked up on first use
            try:
                await kv.create(key, f"{self.token} {self.clock()}".encode())
                return None
            except KeyWrongLastSequenceError:
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:
                    return 0.0  # it lapsed just now: claim it on the next try
        token, _, made_at = (entry.value or b"").decode().partition(" ")
        if token == self.token:
            return None
        return max(CLAIM_LEASE_S - (self.clock() - float(made_at or 0)), 0.0)


def claim_key(msg_id: str) -> str:
    """The claim's key: message ids hold characters a KV key may not."""
    return hashlib.blake2b(msg_id.encode(), digest_size=16).hexdigest()
