"""A model server's parallel slots, shared by every runner on this host that calls it.

A server computes a few requests at once: llama-cpp-python's server one (a lock around its
model), llama.cpp's ``llama-server`` ``--parallel``, vLLM ``max_num_seqs``. Each agent
has its own ``max_concurrency``, but several agents may point at one server, each in a
runner process of its own: ``infra/agents/local.toml`` seats three agents on one Gemma
server of one slot. ``ServerSlots`` holds a server's slots across those processes: slot
``k`` of a server is an exclusive ``flock`` on ``<folder>/<server>.<k>.lock``, taken for
one HTTP attempt (not across a retry's backoff) and released when it ends, or when its
process dies: the kernel drops a dead process's locks, so a killed runner never keeps a
slot. Two ``open()`` of one file lock independently, so runners in one process (the
benchmarks' in-process stacks) share the slots the same way.

Why the runners hold the slots, not only the server's own queue: a call queued at the
server runs down its ``timeout_s`` while it waits behind the others, and is then retried
and queued again; held here, the timeout measures the server's work on that one call, and
the wait for a slot has a bound of its own (``wait_s``) with a reason a person can read.
The latency a runner reports still includes the wait: it is what a call takes when the
server is shared. Runners on other hosts, or under another ``NSED_HOME``, are not
counted: the server's own queue serialises what they add.

A waiter polls (``poll_s``): ``flock`` has no asynchronous form, and a poll of a few
milliseconds is nothing beside a model call of seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from services.agent_runner.backends.base import BackendError

POLL_S = 0.005


def server_key(base_url: str) -> str:
    """One name per server, whatever the spelling of its URL (trailing slash, case of the
    host): what the lock files are named after."""
    url = base_url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    canonical = f"{scheme.lower()}{sep}{host.lower()}{slash}{path}" if sep else url
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ServerSlots:
    """At most ``slots`` holders of one server at once, across processes of this host."""

    def __init__(
        self, folder: Path, base_url: str, slots: int, *, wait_s: float, poll_s: float = POLL_S
    ) -> None:
        if slots < 1:
            raise ValueError(f"a server has at least one slot, not {slots}")
        self.folder = folder
        self.base_url = base_url
        self.slots = slots
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._paths = [folder / f"{server_key(base_url)}.{k}.lock" for k in range(slots)]
        self._next = 0  # where this process starts looking: its holders spread over the slots
        self._made = False

    def _try(self) -> int | None:
        """A descriptor holding a free slot, or None when every slot is held."""
        if not self._made:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._made = True
        for i in range(self.slots):
            path = self._paths[(self._next + i) % self.slots]
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            self._next = (self._next + i + 1) % self.slots
            return fd
        return None

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """One slot for the body's length; ``BackendError`` after ``wait_s`` without one."""
        started = time.monotonic()
        fd = self._try()
        while fd is None:
            if time.monotonic() - started >= self.wait_s:
                raise BackendError(
                    f"{self.base_url} was busy for {self.wait_s:g}s: its {self.slots} slot(s) "
                    "stayed taken by other agents' calls"
                )
            await asyncio.sleep(self.poll_s)
            fd = self._try()
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases its lock
