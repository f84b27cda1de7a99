"""A route's handling slots in one process, and how many messages to pull for them (pure).

Consumes what the pull loop (``pull.py``) sees: the pulls it sends, each message that
arrives, each handling that finishes, the status that ends a pull (with the count the
server left undelivered when it says it), and the clock. Emits how many messages to ask
for now, and whether an arriving message has a slot. It keeps
``0 <= requested``, ``0 <= in_flight`` and ``requested + in_flight <= concurrency``.

The server delivers to a consumer's waiting pulls in turn, and a message does not say which
pull it answers, so ``requested`` is kept as a total: each arrival takes one off it, and a
pull that ends takes off what the server says it left undelivered. A pull that ends without
that count (a ``409`` without it, or its deadline passing with no word, the server having
restarted) takes off only what it can have left: its batch less every arrival since it was
sent. What that leaves too high is let go when no pull is left, or when a late status
brings the count, or as soon as ``requested`` reaches 0: then the server holds no pull of
ours with anything left to deliver.
"""

from __future__ import annotations

from dataclasses import dataclass

ENDED_KEPT = 64  # pulls ended by their deadline whose late status still counts


@dataclass
class _Pull:
    batch: int
    deadline: float
    arrivals: int  # arrivals counted when it was sent
    generation: int


class Slots:
    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self.in_flight = 0
        self.requested = 0
        self._pulls: dict[int, _Pull] = {}  # live pulls, oldest first
        self._ended: dict[int, int] = {}  # ended by their deadline: what was taken off
        self._arrivals = 0
        self._next = 0
        # Pull again when nothing is requested (a slot must never free up without a pull
        # waiting), or when half the slots are free: fewer, larger pulls.
        self._threshold = max(1, concurrency // 2)

    def wanted(self) -> int:
        """How many messages to pull now: every free slot not yet asked for, or 0."""
        free = self.concurrency - self.in_flight - self.requested
        if free > 0 and (self.requested == 0 or free >= self._threshold):
            return free
        return 0

    def pulled(self, batch: int, deadline: float, generation: int = 0) -> int:
        """A pull for ``batch`` sent, to end by ``deadline`` at the latest; its id."""
        if not 0 < batch <= self.concurrency - self.in_flight - self.requested:
            raise ValueError(f"a pull of {batch} does not fit the free slots")
        self._next += 1
        self._pulls[self._next] = _Pull(batch, deadline, self._arrivals, generation)
        self.requested += batch
        return self._next

    def arrived(self) -> bool:
        """A message arrived: True when it takes a slot; False when none is free (a
        message the server sent to a pull this side had already given up on)."""
        self._arrivals += 1
        if self.requested > 0:
            self.requested -= 1
            if self.requested == 0:
                self._forget()
        elif self.in_flight >= self.concurrency:
            return False
        self.in_flight += 1
        return True

    def finished(self) -> None:
        if self.in_flight <= 0:
            raise ValueError("a handling finished that never started")
        self.in_flight -= 1

    def ended(self, pull: int, pending: int | None) -> int | None:
        """Pull ``pull`` ended with a status, ``pending`` messages left undelivered if the
        server said. Returns the generation it was sent at, or None for a pull already
        forgotten (its status says nothing about the consumer now)."""
        if pull in self._ended:  # after its deadline: take off the rest of what it left
            taken = self._ended.pop(pull)
            if pending is not None:
                self._take(pending - taken)
            return None
        sent = self._pulls.pop(pull, None)
        if sent is None:
            return None
        self._take(pending if pending is not None else self._at_least(sent))
        if not self._pulls:
            self._forget()
        return sent.generation

    def expire(self, now: float) -> None:
        """End the pulls whose deadline has passed without a status."""
        for pull in [p for p, sent in self._pulls.items() if sent.deadline <= now]:
            self._ended[pull] = self._take(self._at_least(self._pulls.pop(pull)))
            if len(self._ended) > ENDED_KEPT:  # a status comes late by moments, not pulls
                del self._ended[next(iter(self._ended))]
        if not self._pulls:
            self._forget()

    def next_deadline(self) -> float | None:
        return min((p.deadline for p in self._pulls.values()), default=None)

    def _at_least(self, sent: _Pull) -> int:
        """What a pull can still have had to deliver: no more arrivals were for it than
        arrived since it was sent."""
        return max(0, sent.batch - (self._arrivals - sent.arrivals))

    def _take(self, count: int) -> int:
        taken = min(max(count, 0), self.requested)
        self.requested -= taken
        return taken

    def _forget(self) -> None:
        self._pulls.clear()
        self._ended.clear()
        self.requested = 0
