"""The exception tree every service uses, and what each class means for a message.

    NsedError
    ├── Retryable        transient (NATS timeout, CAS contention): nak with a delay
    │   └── NotYetDue    a timer that is not due: nak with exactly the remaining delay
    ├── Rejected         the message itself is bad: term + dead letter with the reason
    │   └── UnknownTask  well-formed, about a task that has no deliberation record
    ├── ConfigError      bad configuration at startup: one readable line, non-zero exit
    └── UndeclaredOutput a handler emitted a type its route does not declare (a bug)

Anything else raised by a handler is unexpected: it is logged with its traceback and the
message is retried with backoff; on its last allowed delivery it is dead-lettered.
"""

from __future__ import annotations


class NsedError(Exception):
    """Base of every error NSED raises on purpose."""


class Retryable(NsedError):
    """A transient failure; the message is redelivered after ``delay`` seconds."""

    def __init__(self, reason: str, *, delay: float = 0.5) -> None:
        super().__init__(reason)
        self.delay = delay


class NotYetDue(Retryable):
    """A timer message that arrived before its due time."""

    def __init__(self, remaining: float) -> None:
        super().__init__(f"due in {remaining:.3f}s", delay=max(remaining, 0.001))


class Rejected(NsedError):
    """A message that can never be handled: dead-lettered and terminated."""

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


class UnknownTask(Rejected):
    """A well-formed message about a task that has no deliberation record: refused (and so
    dead-lettered), never acknowledged as if it had been handled."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"no deliberation record for task {task_id!r}")


class ConfigError(NsedError):
    """Configuration that cannot work; reported as one line at startup."""


class UndeclaredOutput(NsedError):
    """A handler returned a message type its route does not declare in ``emits``: the flow
    table and the code disagree. Nothing is published; the message is retried and, as for
    any unexpected failure, dead-lettered on its last delivery."""
